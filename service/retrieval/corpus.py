"""What the retriever needs of the stored documents, and how products match."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session


class LexicalRow(NamedTuple):
    id: str
    text: str  # what BM25 indexes
    product: str | None
    key: str  # changes whenever text or product does (the store compares keys, not texts)


class WorkspaceState(NamedTuple):
    id: int
    revision: int  # changes with every write
    # When the workspace was created: with the id, it names one workspace even across a database
    # deleted and made again (where ids and revisions start over).
    generation: str


class Corpus(Protocol):
    """The knowledge base seen from retrieval: read-only, within the caller's session.

    `hidden`: entries this corpus never returns (a held-out sheet); the vector index still holds
    them, so the dense side looks past them.
    """

    hidden: frozenset[str]

    def workspace_state(self, session: Session, workspace: str) -> WorkspaceState | None:
        """None for an unknown workspace."""
        ...

    def lexical_keys(self, session: Session, workspace_id: int) -> Sequence[tuple[str, str]]:
        """(id, key) of every document, in id order: what an incremental update reads in full."""
        ...

    def lexical_rows(
        self, session: Session, workspace_id: int, ids: Sequence[str] | None = None
    ) -> Sequence[LexicalRow]:
        """Every document in id order, or only those of `ids` (the new and changed ones)."""
        ...

    def fetch(self, session: Session, workspace_id: int, ids: Sequence[str]) -> dict[str, Any]:
        """Documents by id (with .question, .product, .ingested_at); unknown ids are left out."""
        ...


_PRODUCT_SPLIT = re.compile(r"\s*[/／・,、]\s*")


def product_matches(entry_product: str | None, wanted: str) -> bool:
    """Entries for no product in particular apply to every product."""
    if not entry_product:
        return True
    wanted_key = wanted.strip().lower()
    if entry_product.strip().lower() == wanted_key:
        return True
    return wanted_key in {p.lower() for p in _PRODUCT_SPLIT.split(entry_product) if p}
