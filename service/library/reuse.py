"""Whether a carried-over answer (flagged `reused`) is still the workspace's current answer.

A reused draft copies a human-approved answer to the same question words. It may go through a
bulk accept like an unflagged draft only while that approval still speaks for the workspace:
- the approved item is still approved, with the answer that was copied (not edited or withdrawn);
- it was approved within the library's review period (`library_review_months`): older ones are
  due for a look, as a canonical answer past its review-by date would be;
- nothing superseded it: no later approval of the same question (and product) with another
  answer, and the knowledge-base row it taught is not superseded by a canonical answer (when
  the approval matched a row already there, so nothing new was stored, those rows count);
- the draft carries no other flag than `reused`.
Anything else waits for a reviewer, one by one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.knowledge_base.models import Entry, SupersededEntry, utcnow
from service.library.canonical import add_months
from service.questionnaires import APPROVED, Item, Questionnaire
from service.questionnaires.intake import REUSED, normalised_question


def _approved_on(item: Item) -> date:
    stamp: datetime = item.updated_at
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).date()


def _later_other_answer(session: Session, reused: Item, source: Item) -> bool:
    """A later approval of the same question words (and product) with another answer."""
    query = (
        select(Item)
        .join(Questionnaire, Item.questionnaire_id == Questionnaire.id)
        .where(
            Questionnaire.workspace_id == reused.questionnaire.workspace_id,
            Item.questionnaire_id != reused.questionnaire_id,
            Item.status.in_(APPROVED),
            Item.id != source.id,
            Item.updated_at > source.updated_at,
        )
    )
    key = (normalised_question(source.question), source.product or "")
    return any(
        (normalised_question(other.question), other.product or "") == key
        and (other.choice, other.answer) != (source.choice, source.answer)
        for other in session.scalars(query)
    )


def _taught_rows(session: Session, reused: Item, source: Item) -> list[str]:
    """The knowledge-base rows that hold the approved answer: the one it taught, or equal rows."""
    cited = next((c.get("entry_id") for c in reused.citations if c.get("reused_from")), "")
    if cited and session.get(Entry, cited) is not None:
        return [cited]
    answer = source.answer or (source.choice or "")
    query = select(Entry.id, Entry.answer).where(
        Entry.workspace_id == reused.questionnaire.workspace_id, Entry.question == source.question
    )
    return [row.id for row in session.execute(query) if " ".join(row.answer.split()) == " ".join(answer.split())]


def reuse_blocker(session: Session, item: Item, review_months: int, today: date | None = None) -> str | None:
    """Why a reused draft must be reviewed one by one, or None when its approval still holds."""
    if REUSED not in item.flags:
        return "not a reused draft"
    if set(item.flags) != {REUSED}:
        return "flagged: " + ", ".join(f for f in item.flags if f != REUSED)
    link = next((c["reused_from"] for c in item.citations if c.get("reused_from")), None)
    source = session.get(Item, link["item_id"]) if link else None
    if source is None or source.status not in APPROVED:
        return "the approval it reuses was withdrawn"
    if (source.choice, source.answer) != (item.draft_choice, item.draft_answer):
        return "the approved answer changed since it was carried over"
    today = today or utcnow().date()
    if _approved_on(source) < add_months(today, -review_months):
        return f"approved more than {review_months} months ago"
    if _later_other_answer(session, item, source):
        return "a later approval answers the same question otherwise"
    rows = _taught_rows(session, item, source)
    if not rows:
        return "the approved answer is no longer in the knowledge base"
    query = select(SupersededEntry.entry_id).where(
        SupersededEntry.workspace_id == item.questionnaire.workspace_id, SupersededEntry.entry_id.in_(rows)
    )
    superseded = set(session.scalars(query))
    if superseded >= set(rows):
        return "a canonical answer of the library superseded it"
    return None
