"""Approved answers flow back into the knowledge base, with their provenance.

Functions take the caller's session and never commit: an approval and the entry it teaches
commit together, or not at all.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.ingest.choices import normalize_choice
from service.knowledge_base import Entry, Source, Workspace, bump_revision, entry_id
from service.knowledge_base.models import utcnow
from service.knowledge_base.text import content_hash, passage_text
from service.questionnaires import Item, Questionnaire


def _review_source_name(questionnaire: Questionnaire) -> str:
    return f"review #{questionnaire.id}: {questionnaire.name}"


def _review_source(session: Session, questionnaire: Questionnaire) -> Source:
    """The knowledge-base source that holds one questionnaire's approved answers."""
    name = _review_source_name(questionnaire)
    source = session.scalar(
        select(Source).where(Source.workspace_id == questionnaire.workspace_id, Source.name == name)
    )
    if source is None:
        source = Source(
            workspace_id=questionnaire.workspace_id,
            name=name,
            kind="review",
            title=questionnaire.name,
            content_sha256="",
            product=questionnaire.product,
        )
        session.add(source)
        session.flush()
    return source


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _item_entry_id(session: Session, item: Item, source: Source) -> str:
    workspace = session.get(Workspace, item.questionnaire.workspace_id)
    return entry_id(workspace.name, source.name, None, item.ref, item.product, 0)


def learn(session: Session, item: Item, user: User) -> Entry | None:
    """An approved answer becomes a knowledge-base entry, with its provenance.

    An answer identical to one the workspace already holds is not stored twice.
    """
    questionnaire = item.questionnaire
    source = _review_source(session, questionnaire)
    own_id = _item_entry_id(session, item, source)
    answer = item.answer or (item.choice or "")
    same_question = session.scalars(
        select(Entry).where(
            Entry.workspace_id == questionnaire.workspace_id, Entry.id != own_id, Entry.question == item.question
        )
    )
    duplicates = [e for e in same_question if _key(e.answer) == _key(answer)]
    existing = session.get(Entry, own_id)
    if duplicates:
        if existing is not None:
            session.delete(existing)
            session.flush()
            bump_revision(session, questionnaire.workspace_id)
        return None
    now = utcnow()
    values = dict(
        workspace_id=questionnaire.workspace_id,
        source_id=source.id,
        sheet=item.sheet,
        row=item.row,
        locator=item.ref,
        section=[],
        question=item.question,
        choice=normalize_choice(item.choice or ""),
        choice_raw=item.choice or "",
        answer=answer,
        notes="",
        product=item.product,
        language=item.language,
        sheet_date=now.date(),
        ingested_at=now,
        content_hash=content_hash(passage_text(item.question, answer)),
        provenance={
            "questionnaire_id": questionnaire.id,
            "questionnaire": questionnaire.name,
            "item_id": item.id,
            "reviewer": user.email,
            "approved_at": now.isoformat(),
        },
    )
    if existing is None:
        existing = Entry(id=own_id, **values)
        session.add(existing)
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    session.flush()
    bump_revision(session, questionnaire.workspace_id)
    return existing


def unlearn(session: Session, item: Item) -> None:
    """A rejected (or sent-to-expert) answer no longer speaks for the vendor."""
    questionnaire = item.questionnaire
    source = session.scalar(
        select(Source).where(
            Source.workspace_id == questionnaire.workspace_id, Source.name == _review_source_name(questionnaire)
        )
    )
    if source is None:
        return  # nothing of this questionnaire was ever learned: no empty source is made
    removed = session.execute(delete(Entry).where(Entry.id == _item_entry_id(session, item, source))).rowcount
    if removed:
        bump_revision(session, item.questionnaire.workspace_id)
