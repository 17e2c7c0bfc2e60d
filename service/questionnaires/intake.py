"""Questionnaires in: an upload stored with its questions, listed, and its progress counted.

Functions take the caller's session and never commit.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.ingest import CellRef, Limits, ParsedItem
from service.knowledge_base import Workspace
from service.questionnaires.models import FAILED, PENDING, Item, Questionnaire
from service.questionnaires.parse import QuestionnaireFile, item_ref, read_questionnaire


def create_questionnaire(
    session: Session,
    workspace: Workspace,
    name: str,
    data: bytes,
    user: User | None,
    product: str | None = None,
    limits: Limits | None = None,
) -> Questionnaire:
    """Store an uploaded questionnaire and its questions, ready for drafting. Raises IngestError."""
    parsed = read_questionnaire(name, data, limits)
    questionnaire = Questionnaire(
        workspace_id=workspace.id,
        name=name,
        product=product,
        data=data,
        status="queued",
        total=len(parsed.items),
        created_by=user.id if user else None,
    )
    session.add(questionnaire)
    session.flush()
    session.add_all(
        Item(
            questionnaire_id=questionnaire.id,
            position=position,
            ref=item_ref(item),
            question=item.question,
            language=item.language,
            product=item.product or product,
            sheet=item.sheet,
            row=item.row,
            locator=item.locator,
            answer_col=item.answer_cell.column if item.answer_cell else None,
            choice_col=item.choice_cell.column if item.choice_cell else None,
            notes_col=item.notes_cell.column if item.notes_cell else None,
            status=PENDING,
        )
        for position, item in enumerate(parsed.items)
    )
    audit.record(
        session,
        workspace.id,
        "questionnaire.upload",
        user,
        questionnaire_id=questionnaire.id,
        after={"name": name, "questions": len(parsed.items), "product": product},
    )
    session.flush()
    return questionnaire


def questionnaires_of(session: Session, workspace: Workspace) -> list[Questionnaire]:
    """A workspace's questionnaires, newest first."""
    query = select(Questionnaire).where(Questionnaire.workspace_id == workspace.id).order_by(Questionnaire.id.desc())
    return list(session.scalars(query))


def status_counts(session: Session, questionnaire: Questionnaire) -> dict[str, int]:
    rows = session.execute(
        select(Item.status, func.count()).where(Item.questionnaire_id == questionnaire.id).group_by(Item.status)
    ).all()
    return {status: count for status, count in rows}


def progress(session: Session, questionnaire: Questionnaire) -> tuple[int, int]:
    """(done, failed), counted from the items' statuses: a failed question drafted again later
    moves from failed to done instead of being counted twice."""
    counts = status_counts(session, questionnaire)
    return questionnaire.total - counts.get(PENDING, 0), counts.get(FAILED, 0)


def fallback_count(session: Session, questionnaire: Questionnaire) -> int:
    """Drafts the LLM drafter could not make, drafted offline instead (their items say why)."""
    query = select(func.count()).where(Item.questionnaire_id == questionnaire.id, Item.drafter == "offline_fallback")
    return session.scalar(query) or 0


def list_items(
    session: Session, questionnaire: Questionnaire, status: str | None = None, min_confidence: float | None = None
) -> list[Item]:
    query = select(Item).where(Item.questionnaire_id == questionnaire.id).order_by(Item.position)
    if status:
        query = query.where(Item.status == status)
    if min_confidence is not None:
        query = query.where(Item.confidence >= min_confidence)
    return list(session.scalars(query))


def stored_file(questionnaire: Questionnaire, items: list[Item]) -> QuestionnaireFile:
    """The customer's file as uploaded, with the given items' cells, for writing answers back."""

    def cell(item: Item, column: int | None) -> CellRef | None:
        return CellRef(item.row, column) if column is not None else None

    parsed = [
        ParsedItem(
            sheet=i.sheet,
            row=i.row,
            locator=i.locator,
            section=[],
            question=i.question,
            language=i.language,
            product=i.product,
            answer_cell=cell(i, i.answer_col),
            notes_cell=cell(i, i.notes_col),
            choice_cell=cell(i, i.choice_col),
        )
        for i in items
    ]
    return QuestionnaireFile(questionnaire.name, questionnaire.data, parsed)
