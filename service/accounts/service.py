"""Users, passwords (argon2), API tokens, roles and workspaces. Functions take the session and never commit."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.accounts.errors import (
    AccountError,
    LastAdmin,
    NotAllowed,
    UserNotFound,
    WorkspaceExists,
    WrongPassword,
)
from service.accounts.models import ROLES, Membership, User
from service.accounts.passwords import check_password, hash_password, hasher, verify
from service.accounts.sessions import end_sessions
from service.accounts.tokens import create_token, revoke_tokens, user_for_token
from service.knowledge_base.models import Workspace
from service.knowledge_base.service import get_or_create_workspace

__all__ = [
    "AccountError",
    "UserNotFound",
    "adopt_workspace",
    "authenticate",
    "change_password",
    "create_token",
    "create_user",
    "create_workspace",
    "email_of",
    "get_user",
    "has_role",
    "list_users",
    "members",
    "remove_member",
    "role_in",
    "set_active",
    "set_instance_admin",
    "set_password",
    "set_role",
    "user_by_email",
    "user_for_token",
    "validate_workspace_name",
    "workspaces_of",
]

WORKSPACE_NAME = re.compile(r"[a-z0-9._-]{1,64}")


def create_user(session: Session, email: str, password: str, name: str = "", *, instance_admin: bool = False) -> User:
    """A new user. The first user ever created is an instance admin (may create workspaces)."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"'{email}' is not an email address")
    check_password(password, email)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError(f"a user with email {email} exists already")
    first = session.scalar(select(func.count()).select_from(User)) == 0
    user = User(
        email=email, name=name, password_hash=hash_password(password), is_instance_admin=instance_admin or first
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        hasher.hash(password)  # same work either way: no timing hint about which emails exist
        return None
    if not verify(user.password_hash, password):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def validate_workspace_name(name: str) -> str:
    """The name if it is a valid workspace name: 1-64 of a-z 0-9 . _ - (not only dots)."""
    if not WORKSPACE_NAME.fullmatch(name) or set(name) == {"."}:
        raise AccountError(
            f"'{name[:80]}' is not a valid workspace name: use 1-64 characters of a-z, 0-9, '-', '_' and '.'"
        )
    return name


def _workspace(session: Session, name: str) -> Workspace | None:
    return session.scalar(select(Workspace).where(Workspace.name == name))


def _keep_an_admin(session: Session, ws: Workspace, user: User) -> None:
    """LastAdmin if `user` is the only admin of the workspace."""
    admins = session.scalars(
        select(Membership.user_id)
        .where(Membership.workspace_id == ws.id, Membership.role == "admin")
        .with_for_update()  # PostgreSQL: two admins demoting each other at once cannot both pass
    ).all()
    if list(admins) == [user.id]:
        raise LastAdmin(f"{user.email} is the last admin of '{ws.name}': make someone else admin first")


def set_role(session: Session, user: User, workspace: str, role: str) -> Membership:
    """Give the user a role in the workspace (created if it does not exist, if its name is valid)."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    ws = _workspace(session, workspace) or get_or_create_workspace(session, validate_workspace_name(workspace))
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == ws.id)
    )
    if membership is None:
        membership = Membership(user_id=user.id, workspace_id=ws.id, role=role)
        session.add(membership)
    else:
        if membership.role == "admin" and role != "admin":
            _keep_an_admin(session, ws, user)
        membership.role = role
    session.flush()
    return membership


def remove_member(session: Session, user: User, ws: Workspace) -> str | None:
    """Take the user out of the workspace; their role there before (None: they were not a member)."""
    membership = session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == ws.id)
    )
    if membership is None:
        return None
    if membership.role == "admin":
        _keep_an_admin(session, ws, user)
    session.delete(membership)
    session.flush()
    return membership.role


def create_workspace(session: Session, user: User, name: str, open_creation: bool = False) -> Workspace:
    """A new workspace with `user` as its admin. Only instance admins may (unless `open_creation`),
    and others are refused before the name is looked at, so a taken name is no oracle."""
    if not (user.is_instance_admin or open_creation):
        raise NotAllowed("only an instance admin can create workspaces")
    validate_workspace_name(name)
    if _workspace(session, name) is not None:
        raise WorkspaceExists(f"workspace '{name}' exists already")
    set_role(session, user, name, "admin")
    ws = _workspace(session, name)
    assert ws is not None
    return ws


def adopt_workspace(session: Session, workspace: str) -> list[str] | None:
    """Make the instance admins the admins of a workspace nobody belongs to; their emails.

    `kotae ingest -w acme` on the server's machine creates a workspace without members, which no
    one could then open or manage in the UI. None when the workspace has members already (or does
    not exist); an empty list when there is no instance admin yet.
    """
    ws = _workspace(session, workspace)
    if ws is None or session.scalar(select(func.count()).where(Membership.workspace_id == ws.id)):
        return None
    admins = session.scalars(
        select(User).where(User.is_instance_admin.is_(True), User.is_active.is_(True)).order_by(User.id)
    ).all()
    for user in admins:
        session.add(Membership(user_id=user.id, workspace_id=ws.id, role="admin"))
    session.flush()
    return [user.email for user in admins]


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
    """Reset the password (by an operator): the policy applies, and every session of the user ends."""
    check_password(password, user.email)
    user.password_hash = hash_password(password)
    end_sessions(session, user)
    session.flush()


def change_password(session: Session, user: User, current: str, new: str, keep_session: str | None = None) -> int:
    """The user changes their own password, proving the current one; their other sessions end (how many)."""
    if not verify(user.password_hash, current):
        raise WrongPassword("the current password is not right")
    check_password(new, user.email)
    if verify(user.password_hash, new):
        raise AccountError("the new password is the current one")
    user.password_hash = hash_password(new)
    ended = end_sessions(session, user, keep=keep_session)
    session.flush()
    return ended


def set_active(session: Session, user: User, active: bool) -> None:
    """An inactive user can neither sign in nor use API tokens; deactivating ends their sessions and
    revokes their tokens for good (reactivating does not bring them back). Nothing else is deleted."""
    user.is_active = active
    if not active:
        end_sessions(session, user)
        revoke_tokens(session, user)
    session.flush()


def set_instance_admin(session: Session, user: User, admin: bool) -> None:
    user.is_instance_admin = admin
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
