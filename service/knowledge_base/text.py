"""What of an entry is embedded and indexed."""

from __future__ import annotations

import hashlib

_PASSAGE_CHARS = 1500


def passage_text(question: str, answer: str) -> str:
    """The text embedded for an entry: its question and answer (answers carry key terms too)."""
    return f"{question}\n{answer}"[:_PASSAGE_CHARS]


def lexical_text(question: str, answer: str) -> str:
    return f"{question}\n{answer}"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
