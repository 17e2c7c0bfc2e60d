"""The knowledge base as retrieval reads it (implements `service.retrieval.Corpus`).

Entries a canonical answer of the library superseded (`SupersededEntry`) are never returned:
they stay stored for provenance, but drafting cites the canonical answer instead. Superseding
bumps the workspace revision, so the cached lexical index is rebuilt without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from service.knowledge_base.models import Entry, SupersededEntry, Workspace
from service.knowledge_base.text import lexical_text
from service.retrieval import LexicalRow, WorkspaceState


def superseded_ids(session: Session, workspace_id: int) -> set[str]:
    """Entries of a workspace that a canonical answer replaced."""
    return set(session.scalars(select(SupersededEntry.entry_id).where(SupersededEntry.workspace_id == workspace_id)))


class EntryCorpus:
    """`hidden`: entries retrieval must not see (a held-out sheet in an eval); nothing is changed.

    `include_superseded`: also return superseded entries (the library's own views need them).
    """

    def __init__(self, hidden: frozenset[str] = frozenset(), include_superseded: bool = False) -> None:
        self.hidden = hidden
        self.include_superseded = include_superseded

    def _excluded(self, session: Session, workspace_id: int) -> set[str] | frozenset[str]:
        if self.include_superseded:
            return self.hidden
        return self.hidden | superseded_ids(session, workspace_id)

    def workspace_state(self, session: Session, workspace: str) -> WorkspaceState | None:
        query = select(Workspace.id, Workspace.revision, Workspace.created_at).where(Workspace.name == workspace)
        row = session.execute(query).first()
        return WorkspaceState(row.id, row.revision, row.created_at.isoformat()) if row else None

    @staticmethod
    def _key(content_hash: str, length: int, product: str | None) -> str:
        # The content hash covers the embedded passage (its first 1,500 characters); the length
        # catches an edit past it, as far as a key read without the text can.
        return f"{content_hash}\x1f{length}\x1f{product or ''}"

    def lexical_keys(self, session: Session, workspace_id: int) -> list[tuple[str, str]]:
        excluded = self._excluded(session, workspace_id)
        length = func.length(Entry.question) + func.length(Entry.answer)
        rows = session.execute(
            select(Entry.id, Entry.content_hash, length, Entry.product)
            .where(Entry.workspace_id == workspace_id)
            .order_by(Entry.id)
        )
        return [(i, self._key(h, n, p)) for i, h, n, p in rows if i not in excluded]

    def lexical_rows(self, session: Session, workspace_id: int, ids: Sequence[str] | None = None) -> list[LexicalRow]:
        excluded = self._excluded(session, workspace_id)
        query = select(Entry.id, Entry.workspace_id, Entry.question, Entry.answer, Entry.product, Entry.content_hash)
        # Some ids are fetched by primary key, a page at a time (SQL variable limits), and their
        # workspace checked here (see `fetch` for why not in the query).
        pages = [None] if ids is None else [ids[i : i + 500] for i in range(0, len(ids), 500)]
        found: list[LexicalRow] = []
        for page in pages:
            where = Entry.workspace_id == workspace_id if page is None else Entry.id.in_(page)
            for r in session.execute(query.where(where)):
                if r.workspace_id == workspace_id and r.id not in excluded:
                    text = lexical_text(r.question, r.answer)
                    key = self._key(r.content_hash, len(r.question) + len(r.answer), r.product)
                    found.append(LexicalRow(r.id, text, r.product, key))
        return sorted(found, key=lambda row: row.id)

    def fetch(self, session: Session, workspace_id: int, ids: Sequence[str]) -> dict[str, Entry]:
        # By primary key only, then the workspace checked here: with `AND workspace_id = ?` in the
        # query SQLite picks the workspace index and scans the whole workspace.
        excluded = self._excluded(session, workspace_id)
        found: dict[str, Entry] = {}
        for start in range(0, len(ids), 500):
            query = select(Entry).where(Entry.id.in_(ids[start : start + 500])).options(selectinload(Entry.source))
            found.update(
                (e.id, e) for e in session.scalars(query) if e.workspace_id == workspace_id and e.id not in excluded
            )
        return found
