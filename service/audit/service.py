"""Writing and reading audit events. Functions take the caller's session and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.audit.models import AuditEvent


def record(
    session: Session,
    workspace_id: int,
    action: str,
    user: User | None,
    *,
    questionnaire_id: int | None = None,
    item_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """One audit row in the caller's transaction (`user` None: a background job)."""
    event = AuditEvent(
        workspace_id=workspace_id,
        questionnaire_id=questionnaire_id,
        item_id=item_id,
        user_id=user.id if user else None,
        action=action,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def for_questionnaire(session: Session, questionnaire_id: int) -> list[tuple[AuditEvent, str | None]]:
    """A questionnaire's events, oldest first, each with the acting user's email."""
    rows = session.execute(
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.questionnaire_id == questionnaire_id)
        .order_by(AuditEvent.id)
    ).all()
    return [(event, email) for event, email in rows]
