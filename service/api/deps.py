"""Request-scoped dependencies: the unit of work, the current user, role checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session, sessionmaker

from service.accounts.models import User
from service.accounts.service import has_role, role_in, user_for_token
from service.db import init_db
from service.knowledge_base.models import Workspace
from service.review.models import Item, Questionnaire


def get_db(request: Request) -> Iterator[Session]:
    """The request owns its session: routes commit what they change; anything else is rolled back."""
    factory: sessionmaker[Session] = request.app.state.sessions
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


DB = Annotated[Session, Depends(get_db)]


def current_user(request: Request, db: DB) -> User:
    header = request.headers.get("authorization", "")
    user: User | None = None
    if header.lower().startswith("bearer "):
        user = user_for_token(db, header[7:].strip())
    elif "user_id" in request.session:
        user = db.get(User, request.session["user_id"])
    if user is None or not user.is_active:
        raise HTTPException(status_code=401, detail="sign in or send an API token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def workspace_for(db: Session, user: User, name: str, needed: str) -> Workspace:
    """The workspace if the user may do `needed` in it: 404 for outsiders (nothing leaks), 403 for too low a role."""
    ws = db.query(Workspace).filter(Workspace.name == name).one_or_none()
    role = role_in(db, user, ws.id) if ws else None
    if ws is None or role is None:
        raise HTTPException(status_code=404, detail=f"no workspace '{name}'")
    if not has_role(role, needed):
        raise HTTPException(status_code=403, detail=f"this needs the {needed} role in '{name}'")
    return ws


def _member_with(db: Session, user: User, workspace_id: int | None, needed: str, missing: str) -> None:
    """404 when the caller is no member (the thing's existence does not leak), 403 when the role is too low."""
    role = role_in(db, user, workspace_id) if workspace_id is not None else None
    if role is None:
        raise HTTPException(status_code=404, detail=missing)
    if not has_role(role, needed):
        raise HTTPException(status_code=403, detail=f"this needs the {needed} role")


def questionnaire_for(db: Session, user: User, questionnaire_id: int, needed: str) -> Questionnaire:
    q = db.get(Questionnaire, questionnaire_id)
    _member_with(db, user, q.workspace_id if q else None, needed, f"no questionnaire {questionnaire_id}")
    return q


def item_for(db: Session, user: User, item_id: int, needed: str) -> Item:
    item = db.get(Item, item_id)
    q = db.get(Questionnaire, item.questionnaire_id) if item else None
    _member_with(db, user, q.workspace_id if q else None, needed, f"no item {item_id}")
    return item


def make_sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_db(url), expire_on_commit=False)
