"""Questionnaires in: an upload stored with its questions, listed, and its progress counted.

Functions take the caller's session and never commit.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.ingest import CellRef, IngestError, Limits, ParsedItem
from service.knowledge_base import Entry, Workspace, entry_id
from service.questionnaires.models import APPROVED, DRAFTED, FAILED, PENDING, Item, Questionnaire
from service.questionnaires.parse import QuestionnaireFile, item_ref, read_questionnaire

# Marks a value cut to fit its column (a reviewer sees it was longer in the file).
CUT = "…"


def fit(value: str, column: Any) -> str:
    """A value of the customer's file as its column can hold it: without NUL characters (PostgreSQL
    refuses them in any text) and cut to the column's length with a marker. The file itself is
    kept whole (`Questionnaire.data`), and answers are written back by row and column, never by these."""
    value = value.replace("\x00", "")
    limit = getattr(column.type, "length", None)
    return value if limit is None or len(value) <= limit else value[: limit - len(CUT)] + CUT


def _checked_sheet(name: str, item: ParsedItem) -> str | None:
    """The sheet's name, whole: export writes answers back into the sheet of that name, so a name
    its column cannot hold is refused (naming the file, sheet and row), never cut."""
    if item.sheet is None:
        return None
    limit = Item.__table__.c.sheet.type.length
    if "\x00" in item.sheet or len(item.sheet) > limit:
        raise IngestError(
            name,
            f"the sheet's name has a NUL character or is longer than {limit} characters ({len(item.sheet)})",
            sheet=item.sheet[:80],
            row=item.row,
        )
    return item.sheet


def create_questionnaire(
    session: Session,
    workspace: Workspace,
    name: str,
    data: bytes,
    user: User | None,
    product: str | None = None,
    limits: Limits | None = None,
) -> Questionnaire:
    """Store an uploaded questionnaire and its questions, ready for drafting. Raises IngestError.

    What the items' columns cannot hold (NUL characters, over-long references, sections, locators)
    is cleaned (`fit`), the same on every database; a sheet name that cannot be held is refused.
    """
    parsed = read_questionnaire(name, data, limits)
    columns = Item.__table__.c
    sheets = [_checked_sheet(name, item) for item in parsed.items]  # refused before anything is stored
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
            ref=fit(item_ref(item), columns.ref),
            question=fit(item.question, columns.question),
            section=fit(" / ".join(item.section), columns.section),
            language=item.language,
            product=fit(item.product, columns.product) if item.product else product,
            sheet=sheet,
            row=item.row,
            locator=fit(item.locator, columns.locator),
            answer_col=item.answer_cell.column if item.answer_cell else None,
            choice_col=item.choice_cell.column if item.choice_cell else None,
            notes_col=item.notes_cell.column if item.notes_cell else None,
            status=PENDING,
        )
        for position, (item, sheet) in enumerate(zip(parsed.items, sheets, strict=True))
    )
    session.flush()
    reused = carry_over(session, questionnaire)
    audit.record(
        session,
        workspace.id,
        "questionnaire.upload",
        user,
        questionnaire_id=questionnaire.id,
        after={"name": name, "questions": len(parsed.items), "product": product, "reused": reused},
    )
    session.flush()
    return questionnaire


REUSED = "reused"  # the flag of a question prefilled with an answer approved in an earlier questionnaire


def normalised_question(question: str) -> str:
    """The words of a question, compared across uploads (the drafting pipeline's `question_key` alike)."""
    return " ".join(unicodedata.normalize("NFKC", question).lower().split())


def carry_over(session: Session, questionnaire: Questionnaire) -> int:
    """Prefill questions asked before: an approved answer to the same words (and product) in an
    earlier questionnaire of the workspace is copied in, flagged `reused`, cited with where it was
    approved, and left `drafted` for a reviewer like any draft. Returns how many were prefilled.

    The newest approval wins. Items it fills are not drafted again (drafting takes pending items).
    """
    approved = session.execute(
        select(Item, Questionnaire.name)
        .join(Questionnaire, Item.questionnaire_id == Questionnaire.id)
        .where(
            Questionnaire.workspace_id == questionnaire.workspace_id,
            Questionnaire.id != questionnaire.id,
            Item.status.in_(APPROVED),
        )
        .order_by(Item.updated_at.desc(), Item.id.desc())
    ).all()
    prior: dict[tuple[str, str], tuple[Item, str]] = {}
    for item, source_name in approved:
        prior.setdefault((normalised_question(item.question), item.product or ""), (item, source_name))
    if not prior:
        return 0
    workspace = session.get(Workspace, questionnaire.workspace_id)
    filled = 0
    for item in session.scalars(select(Item).where(Item.questionnaire_id == questionnaire.id, Item.status == PENDING)):
        found = prior.get((normalised_question(item.question), item.product or ""))
        if found is None:
            continue
        before, source_name = found
        link = {"questionnaire_id": before.questionnaire_id, "item_id": before.id, "ref": before.ref}
        review_source = f"review #{before.questionnaire_id}: {source_name}"
        # The knowledge-base entry the approval taught (service/library/learning.py names it so),
        # when it is still there: the why panel then shows who approved it and when.
        learned = entry_id(workspace.name, review_source, None, before.ref, before.product, 0)
        item.draft_choice = item.choice = before.choice
        item.draft_answer = item.answer = before.answer
        item.confidence = 1.0
        item.confidence_source = "reused"
        item.drafter = REUSED
        item.drafted_by = REUSED
        item.draft_count = 1
        item.flags = [REUSED]
        item.citations = [
            {
                "entry_id": learned if session.get(Entry, learned) is not None else "",
                "source": review_source,
                "locator": before.ref,
                "text": f"{before.question}\n{before.answer or before.choice or ''}",
                "product": before.product,
                "reused_from": link,
            }
        ]
        item.draft_note = f"reused: approved in questionnaire #{before.questionnaire_id} ({source_name}), {before.ref}"
        item.status = DRAFTED
        filled += 1
    session.flush()
    return filled


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
