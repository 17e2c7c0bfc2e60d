"""The knowledge base as retrieval reads it (implements `service.retrieval.Corpus`).

Entries a canonical answer of the library superseded (`SupersededEntry`) are never returned:
they stay stored for provenance, but drafting cites the canonical answer instead. Superseding
bumps the workspace revision, so the cached lexical index is rebuilt without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
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

    def lexical_rows(self, session: Session, workspace_id: int) -> list[LexicalRow]:
        excluded = self._excluded(session, workspace_id)
        rows = session.execute(
            select(Entry.id, Entry.question, Entry.answer, Entry.product)
            .where(Entry.workspace_id == workspace_id)
            .order_by(Entry.id)
        )
        return [LexicalRow(r.id, lexical_text(r.question, r.answer), r.product) for r in rows if r.id not in excluded]

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
