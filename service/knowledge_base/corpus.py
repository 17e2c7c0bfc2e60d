"""The knowledge base as retrieval reads it (implements `service.retrieval.Corpus`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.knowledge_base.models import Entry, Workspace
from service.knowledge_base.text import lexical_text
from service.retrieval import LexicalRow


class EntryCorpus:
    """`hidden`: entries retrieval must not see (a held-out sheet in an eval); nothing is changed."""

    def __init__(self, hidden: frozenset[str] = frozenset()) -> None:
        self.hidden = hidden

    def workspace_state(self, session: Session, workspace: str) -> tuple[int, int] | None:
        row = session.execute(select(Workspace.id, Workspace.revision).where(Workspace.name == workspace)).first()
        return (row.id, row.revision) if row else None

    def lexical_rows(self, session: Session, workspace_id: int) -> list[LexicalRow]:
        rows = session.execute(
            select(Entry.id, Entry.question, Entry.answer, Entry.product)
            .where(Entry.workspace_id == workspace_id)
            .order_by(Entry.id)
        )
        return [
            LexicalRow(r.id, lexical_text(r.question, r.answer), r.product) for r in rows if r.id not in self.hidden
        ]

    def fetch(self, session: Session, workspace_id: int, ids: Sequence[str]) -> dict[str, Entry]:
        # By primary key only, then the workspace checked here: with `AND workspace_id = ?` in the
        # query SQLite picks the workspace index and scans the whole workspace.
        found: dict[str, Entry] = {}
        for start in range(0, len(ids), 500):
            query = select(Entry).where(Entry.id.in_(ids[start : start + 500])).options(selectinload(Entry.source))
            found.update(
                (e.id, e) for e in session.scalars(query) if e.workspace_id == workspace_id and e.id not in self.hidden
            )
        return found
