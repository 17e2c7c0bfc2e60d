"""Server-side sessions for the browser: the signed cookie carries only a random session id, this
table says whose it is and until when. Logout, a password change or reset and deactivation end them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service.accounts.models import User, UserSession, aware
from service.knowledge_base.models import utcnow


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, user: User, lifetime: timedelta) -> str:
    """A new session for the user; returns its id (for the cookie), stored only as a hash."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    purge_sessions(session, now)
    session.add(
        UserSession(
            key_hash=_key_hash(key), user_id=user.id, created_at=now, last_seen_at=now, expires_at=now + lifetime
        )
    )
    session.flush()
    return key


def find_session(session: Session, key: str, idle: timedelta) -> UserSession | None:
    """The session with this id if it is still valid: not expired, not idle too long, its user active."""
    row = session.scalar(select(UserSession).where(UserSession.key_hash == _key_hash(key)))
    now = utcnow()
    if row is None or aware(row.expires_at) <= now or aware(row.last_seen_at) + idle <= now:
        return None
    user = session.get(User, row.user_id)
    return row if user is not None and user.is_active else None


def session_user(session: Session, key: str, idle: timedelta) -> User | None:
    row = find_session(session, key, idle)
    return session.get(User, row.user_id) if row is not None else None


def end_session(session: Session, key: str) -> None:
    session.execute(delete(UserSession).where(UserSession.key_hash == _key_hash(key)))


def end_sessions(session: Session, user: User, keep: str | None = None) -> int:
    """End every session of the user, except the one with id `keep` if given; how many ended."""
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(UserSession.key_hash != _key_hash(keep))
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def purge_sessions(session: Session, now: datetime | None = None) -> int:
    """Delete sessions past their expiry."""
    statement = delete(UserSession).where(UserSession.expires_at <= (now or utcnow()))
    return session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def touch_session(session: Session, session_id: int, when: datetime) -> None:
    session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=when))
