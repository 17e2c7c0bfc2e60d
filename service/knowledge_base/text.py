"""What of an entry is embedded and indexed, and how products match."""

from __future__ import annotations

import hashlib
import re

_PASSAGE_CHARS = 1500


def passage_text(question: str, answer: str) -> str:
    """The text embedded for an entry: its question and answer (answers carry key terms too)."""
    return f"{question}\n{answer}"[:_PASSAGE_CHARS]


def lexical_text(question: str, answer: str) -> str:
    return f"{question}\n{answer}"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_PRODUCT_SPLIT = re.compile(r"\s*[/／・,、]\s*")


def product_matches(entry_product: str | None, wanted: str) -> bool:
    """Entries for no product in particular apply to every product."""
    if not entry_product:
        return True
    wanted_key = wanted.strip().lower()
    if entry_product.strip().lower() == wanted_key:
        return True
    return wanted_key in {p.lower() for p in _PRODUCT_SPLIT.split(entry_product) if p}
