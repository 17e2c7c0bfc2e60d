"""Request-scoped dependencies: the unit of work, the current user, and the workspace,
questionnaire or item a route acts on, resolved and authorised once.

Outsiders get 404 (nothing's existence leaks), members whose role is too low 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from service.accounts import User, has_role, role_in, user_for_token
from service.db import init_db
from service.jobs import Jobs
from service.knowledge_base import KnowledgeBase, Workspace
from service.questionnaires import Item, Questionnaire

# Path ids beyond a 64-bit integer are refused as 422 before any query sees them.
MAX_ID = 2**63 - 1


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


def _kb(request: Request) -> KnowledgeBase:
    return request.app.state.kb


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


KB = Annotated[KnowledgeBase, Depends(_kb)]
JobRunner = Annotated[Jobs, Depends(_jobs)]


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
    """The workspace if the user may do `needed` in it."""
    ws = db.query(Workspace).filter(Workspace.name == name).one_or_none()
    role = role_in(db, user, ws.id) if ws else None
    if ws is None or role is None:
        raise HTTPException(status_code=404, detail=f"no workspace '{name}'")
    if not has_role(role, needed):
        raise HTTPException(status_code=403, detail=f"this needs the {needed} role in '{name}'")
    return ws


def _member_with(db: Session, user: User, workspace_id: int | None, needed: str, missing: str) -> None:
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


WorkspaceName = Annotated[str, Path(description="Workspace name.")]
QuestionnaireId = Annotated[int, Path(ge=1, le=MAX_ID)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _workspace(needed: str) -> Callable[..., Workspace]:
    def resolve(workspace: WorkspaceName, user: CurrentUser, db: DB) -> Workspace:
        return workspace_for(db, user, workspace, needed)

    return resolve


def _questionnaire(needed: str) -> Callable[..., Questionnaire]:
    def resolve(questionnaire_id: QuestionnaireId, user: CurrentUser, db: DB) -> Questionnaire:
        return questionnaire_for(db, user, questionnaire_id, needed)

    return resolve


def _item(needed: str) -> Callable[..., Item]:
    def resolve(item_id: ItemId, user: CurrentUser, db: DB) -> Item:
        return item_for(db, user, item_id, needed)

    return resolve


WorkspaceViewer = Annotated[Workspace, Depends(_workspace("viewer"))]
WorkspaceReviewer = Annotated[Workspace, Depends(_workspace("reviewer"))]
WorkspaceAdmin = Annotated[Workspace, Depends(_workspace("admin"))]
QuestionnaireViewer = Annotated[Questionnaire, Depends(_questionnaire("viewer"))]
QuestionnaireReviewer = Annotated[Questionnaire, Depends(_questionnaire("reviewer"))]
ItemViewer = Annotated[Item, Depends(_item("viewer"))]
ItemReviewer = Annotated[Item, Depends(_item("reviewer"))]


def make_sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=init_db(url), expire_on_commit=False)
