"""Users, passwords (argon2), API tokens and roles. Functions take the session and never commit."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import ROLES, ApiToken, Membership, User
from service.knowledge_base.models import Workspace
from service.knowledge_base.service import get_or_create_workspace

_hasher = PasswordHasher()


class AccountError(ValueError):
    pass


class UserNotFound(LookupError):
    pass


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise AccountError("passwords need at least 10 characters")


def create_user(session: Session, email: str, password: str, name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"'{email}' is not an email address")
    _check_password(password)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"a user with email {email} exists already")
    user = User(email=email, name=name, password_hash=_hasher.hash(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        _hasher.hash(password)  # same work either way: no timing hint about which emails exist
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "") -> str:
    """A new API token; the plain value is returned once and only its hash is stored."""
    token = "kt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    # No write here: a read request must not take the database's write lock (SQLite has one writer).
    return user


def set_role(session: Session, user: User, workspace: str, role: str) -> Membership:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    ws = get_or_create_workspace(session, workspace)
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == ws.id)
    )
    if membership is None:
        membership = Membership(user_id=user.id, workspace_id=ws.id, role=role)
        session.add(membership)
    else:
        membership.role = role
    session.flush()
    return membership


def role_in(session: Session, user: User, workspace_id: int) -> str | None:
    return session.scalar(
        select(Membership.role).where(Membership.user_id == user.id, Membership.workspace_id == workspace_id)
    )


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(needed)


def workspaces_of(session: Session, user: User) -> list[tuple[Workspace, str]]:
    rows = session.execute(
        select(Workspace, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user.id)
        .order_by(Workspace.name)
    ).all()
    return [(ws, role) for ws, role in rows]


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def members(session: Session, workspace: Workspace) -> list[tuple[str, str]]:
    """(email, role) of a workspace's members, by email."""
    rows = session.execute(
        select(User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == workspace.id)
        .order_by(User.email)
    ).all()
    return [(email, role) for email, role in rows]


def email_of(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.email if user else None


def get_user(session: Session, email: str) -> User:
    """The user with this email (any case), or UserNotFound."""
    user = user_by_email(session, email)
    if user is None:
        raise UserNotFound(f"no user with email {email.strip().lower()}")
    return user


def set_password(session: Session, user: User, password: str) -> None:
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()


def set_active(session: Session, user: User, active: bool) -> None:
    """An inactive user can neither sign in nor use their API tokens or open sessions; nothing is deleted."""
    user.is_active = active
    session.flush()


def list_users(session: Session) -> list[tuple[User, dict[str, str]]]:
    """Every user by email, with their role per workspace name."""
    users = list(session.scalars(select(User).order_by(User.email)))
    roles: dict[int, dict[str, str]] = {user.id: {} for user in users}
    rows = session.execute(
        select(Membership.user_id, Workspace.name, Membership.role)
        .join(Workspace, Workspace.id == Membership.workspace_id)
        .order_by(Workspace.name)
    )
    for user_id, workspace, role in rows:
        roles[user_id][workspace] = role
    return [(user, roles[user.id]) for user in users]
