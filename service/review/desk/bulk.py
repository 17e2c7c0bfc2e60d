"""Safe bulk accept: preview what it would accept, accept it as one batch, undo it for a while.

Flagged drafts are skipped, except a draft flagged only `reused` whose approval still holds (the
same question words approved by a person, within the library's review period, not edited,
withdrawn or superseded since: `service.library.reuse_blocker`): accepting it in bulk repeats a
human decision; any doubt about that decision sends it to a reviewer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.knowledge_base.models import utcnow
from service.library import reuse_blocker, unlearn
from service.questionnaires import ACCEPTED, DRAFTED, Item, Questionnaire, list_items
from service.review.models import BulkBatch
from service.review.transitions import ReviewError, accept, snapshot

UNDO_WINDOW = timedelta(minutes=10)


class BatchNotFound(ReviewError):
    status_code = 404


class UndoClosed(ReviewError):
    """Too late, or undone already: nothing changes."""

    status_code = 409


def bulk_candidates(
    session: Session, questionnaire: Questionnaire, min_confidence: float, review_months: int
) -> tuple[list[Item], list[Item]]:
    """(would be accepted, skipped because flagged): untouched drafts at or above the confidence.

    `review_months`: how old a reused approval may be (the caller's `library_review_months`).
    """
    drafts = list_items(session, questionnaire, status=DRAFTED, min_confidence=min_confidence)
    ready, flagged = [], []
    for item in drafts:
        if not item.flags or reuse_blocker(session, item, review_months) is None:
            ready.append(item)
        else:
            flagged.append(item)
    return ready, flagged


def bulk_accept(
    session: Session,
    questionnaire: Questionnaire,
    user: User,
    min_confidence: float,
    review_months: int,
    expected: dict[int, int] | None = None,
) -> tuple[BulkBatch, list[Item]]:
    """Accept the unflagged drafts (and still-current reused ones) at or above the confidence, as one
    batch that can be undone.

    `expected` (item id -> version, what the reviewer previewed) limits the batch to those items as
    they were seen: one changed since, or not previewed, is left alone.
    """
    ready, _ = bulk_candidates(session, questionnaire, min_confidence, review_months)
    if expected is not None:
        ready = [i for i in ready if expected.get(i.id) == i.version]
    accepted = [accept(session, item, user, item.version) for item in ready]
    batch = BulkBatch(
        questionnaire_id=questionnaire.id,
        user_id=user.id,
        min_confidence=min_confidence,
        items=[[i.id, i.version] for i in accepted],
        created_at=utcnow(),
    )
    session.add(batch)
    session.flush()
    audit.record(
        session,
        questionnaire.workspace_id,
        "questionnaire.bulk_accept",
        user,
        questionnaire_id=questionnaire.id,
        after={"batch": batch.id, "accepted": len(accepted), "min_confidence": min_confidence},
    )
    return batch, accepted


def undo_until(batch: BulkBatch) -> datetime:
    created = batch.created_at if batch.created_at.tzinfo else batch.created_at.replace(tzinfo=UTC)
    return created + UNDO_WINDOW


def undo_bulk(
    session: Session, questionnaire: Questionnaire, batch_id: int, user: User, now: datetime | None = None
) -> tuple[list[Item], list[Item]]:
    """Return a bulk accept's items to drafted, unless someone changed them since; they no longer teach
    the knowledge base. Returns (restored, kept as they are). Once, within UNDO_WINDOW."""
    batch = session.get(BulkBatch, batch_id)
    if batch is None or batch.questionnaire_id != questionnaire.id:
        raise BatchNotFound(f"no bulk accept {batch_id} in this questionnaire")
    now = now or utcnow()
    if now > undo_until(batch):
        raise UndoClosed(f"bulk accept {batch_id} can no longer be undone (only for {UNDO_WINDOW} after it)")
    claimed = session.execute(
        update(BulkBatch)
        .where(BulkBatch.id == batch_id, BulkBatch.undone_at.is_(None))
        .values(undone_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise UndoClosed(f"bulk accept {batch_id} was undone already")
    restored: list[Item] = []
    kept: list[Item] = []
    for item_id, version in batch.items:
        item = session.get(Item, item_id)
        if item is None:
            continue
        if item.version != version or item.status != ACCEPTED:
            kept.append(item)
            continue
        before = snapshot(item)
        item.status = DRAFTED
        item.updated_at = now
        item.updated_by = user.id
        session.flush()
        unlearn(session, item)
        audit.record(
            session,
            questionnaire.workspace_id,
            "item.undo_accept",
            user,
            questionnaire_id=questionnaire.id,
            item_id=item.id,
            before=before,
            after=snapshot(item),
        )
        restored.append(item)
    audit.record(
        session,
        questionnaire.workspace_id,
        "questionnaire.bulk_undo",
        user,
        questionnaire_id=questionnaire.id,
        before={"batch": batch_id, "accepted": len(batch.items)},
        after={"restored": len(restored), "kept": [i.id for i in kept]},
    )
    return restored, kept
