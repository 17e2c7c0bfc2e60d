"""API tokens: named, optionally expiring, listed and revocable. Only a token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.accounts.errors import TokenNotFound
from service.accounts.models import ApiToken, User
from service.knowledge_base.models import utcnow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "", expires_at: datetime | None = None) -> str:
    """A new API token; the plain value is returned once and only its hash is stored."""
    return issue_token(session, user, name, expires_at)[1]


def issue_token(
    session: Session, user: User, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new API token row and its plain value (shown once)."""
    token = "kt_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=token_hash(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def token_row(session: Session, token: str) -> ApiToken | None:
    """The token's row if it can be used now: known, not revoked, not expired, its user active."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or not row.usable(utcnow()):
        return None
    user = session.get(User, row.user_id)
    return row if user is not None and user.is_active else None


def user_for_token(session: Session, token: str) -> User | None:
    row = token_row(session, token)
    # No write here: a read request must not take the database's write lock (SQLite has one writer).
    return session.get(User, row.user_id) if row is not None else None


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens that are not revoked (expired ones included), newest first."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; anyone else's, or a revoked one, is TokenNotFound."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise TokenNotFound(f"no token {token_id}")
    row.revoked_at = utcnow()
    session.flush()
    return row


def revoke_tokens(session: Session, user: User) -> int:
    """Revoke every token of the user (they stay listed nowhere and never work again)."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def touch_token(session: Session, token_id: int, when: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))
