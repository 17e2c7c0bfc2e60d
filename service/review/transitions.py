"""The review state machine: which action may move an item from which status, with optimistic locking.

Every action names the version the reviewer read; a stale version changes nothing (StaleVersion,
with the current item for the client). Each change is audited with the state before and after,
and approvals teach the knowledge base (service.library). Functions take the caller's session
and never commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.knowledge_base.models import utcnow
from service.library import learn, unlearn
from service.questionnaires import (
    ACCEPTED,
    DRAFTED,
    EDITED,
    FAILED,
    NEEDS_EXPERT,
    PENDING,
    REJECTED,
    Item,
    Questionnaire,
    list_items,
)


class ReviewError(Exception):
    status_code = 400


class InvalidTransition(ReviewError):
    status_code = 409


class StaleVersion(ReviewError):
    """The item changed since the client read it: nothing is written, the current item is returned."""

    status_code = 409

    def __init__(self, item: Item) -> None:
        super().__init__(f"item {item.id} was changed by someone else (now version {item.version})")
        self.item_id = item.id  # ids only: the request's session is gone when the error is rendered


def snapshot(item: Item) -> dict[str, Any]:
    return {
        "status": item.status,
        "choice": item.choice,
        "answer": item.answer,
        "assignee_id": item.assignee_id,
        "version": item.version,
    }


def _check_version(item: Item, version: int) -> None:
    if item.version != version:
        raise StaleVersion(item)


def _change(session: Session, item: Item, user: User, action: str, **changes: Any) -> Item:
    questionnaire = item.questionnaire
    before = snapshot(item)
    for key, value in changes.items():
        setattr(item, key, value)
    item.updated_at = utcnow()
    item.updated_by = user.id
    session.flush()  # bumps the version; a concurrent writer's flush now fails instead of overwriting
    audit.record(
        session,
        questionnaire.workspace_id,
        action,
        user,
        questionnaire_id=questionnaire.id,
        item_id=item.id,
        before=before,
        after=snapshot(item),
    )
    return item


def accept(session: Session, item: Item, user: User, version: int) -> Item:
    """Approve the answer as it stands (a draft, or an answer already edited)."""
    _check_version(item, version)
    if item.status in (PENDING, FAILED) or not (item.answer or item.choice):
        raise InvalidTransition(f"item {item.id} has no answer to accept (status {item.status}); edit it instead")
    _change(session, item, user, "item.accept", status=ACCEPTED)
    learn(session, item, user)
    return item


def edit(session: Session, item: Item, user: User, version: int, choice: str | None, answer: str) -> Item:
    """Approve the reviewer's own answer."""
    _check_version(item, version)
    if item.status == PENDING:
        raise InvalidTransition(f"item {item.id} is still being drafted")
    if not (answer.strip() or choice):
        raise InvalidTransition("an edited answer needs a choice or a text")
    _change(session, item, user, "item.edit", status=EDITED, choice=choice, answer=answer.strip())
    learn(session, item, user)
    return item


def _withdraw(session: Session, item: Item, user: User, version: int, status: str, action: str) -> Item:
    """Reject or send to an expert: the answer no longer speaks for the vendor."""
    _check_version(item, version)
    if item.status == PENDING:
        raise InvalidTransition(f"item {item.id} is still being drafted")
    _change(session, item, user, action, status=status)
    unlearn(session, item)
    return item


def reject(session: Session, item: Item, user: User, version: int) -> Item:
    return _withdraw(session, item, user, version, REJECTED, "item.reject")


def needs_expert(session: Session, item: Item, user: User, version: int) -> Item:
    return _withdraw(session, item, user, version, NEEDS_EXPERT, "item.needs_expert")


def assign(session: Session, item: Item, user: User, version: int, assignee: User | None) -> Item:
    _check_version(item, version)
    return _change(session, item, user, "item.assign", assignee_id=assignee.id if assignee else None)


def bulk_accept(session: Session, questionnaire: Questionnaire, user: User, min_confidence: float) -> list[Item]:
    """Accept every untouched, unflagged draft at or above a confidence.

    A flagged draft (conflicting evidence, needs translation, a withheld choice...) always needs a
    person's eye, whatever its confidence.
    """
    return [
        accept(session, item, user, item.version)
        for item in list_items(session, questionnaire, status=DRAFTED, min_confidence=min_confidence)
        if not item.flags
    ]
