"""Request-scoped dependencies: the unit of work, the current user, and the workspace,
questionnaire or item a route acts on, resolved and authorised once.

Outsiders get 404 (nothing's existence leaks), members whose role is too low 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.accounts import User, find_session, has_role, role_in, token_row
from service.accounts.models import aware
from service.accounts.sessions import touch_session
from service.accounts.tokens import touch_token
from service.api.schemas import MAX_ID as SCHEMA_MAX_ID
from service.db import init_db
from service.jobs import Jobs
from service.knowledge_base import KnowledgeBase, Workspace
from service.knowledge_base.models import utcnow
from service.questionnaires import Item, Questionnaire
from service.settings import Settings

# Path ids beyond what an id column holds are refused as 422 before any query sees them.
MAX_ID = SCHEMA_MAX_ID


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


# Last-use times are written at most this often per session or token, in a transaction of their own:
# a read request must not hold the database's write lock (SQLite has one writer).
TOUCH_EVERY = timedelta(minutes=1)
SESSION_KEY = "sid"


def _touch(request: Request, touch: Callable[[Session, int, datetime], None], row_id: int) -> None:
    factory: sessionmaker[Session] = request.app.state.sessions
    try:
        with factory() as session:
            touch(session, row_id, utcnow())
            session.commit()
    except OperationalError:
        pass  # best effort: a busy database does not fail the request over a last-seen time


def session_id(request: Request) -> str | None:
    """The session id the signed cookie carries, if any (older cookies carrying a user id count as none)."""
    value = request.session.get(SESSION_KEY)
    return value if isinstance(value, str) else None


def session_user(request: Request, db: Session) -> User | None:
    """The user signed in with the session cookie: their session exists, has not expired or idled out."""
    key = session_id(request)
    settings: Settings = request.app.state.settings
    row = find_session(db, key, timedelta(minutes=settings.session_idle_minutes)) if key else None
    if row is None:
        return None
    if utcnow() - aware(row.last_seen_at) >= TOUCH_EVERY:
        _touch(request, touch_session, row.id)
    return db.get(User, row.user_id)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def current_user(request: Request, db: DB) -> User:
    """The caller: by `Authorization: Bearer <token>` if sent, else by the session cookie."""
    token = bearer_token(request)
    user: User | None = None
    if token is not None:
        row = token_row(db, token)
        if row is not None:
            if row.last_used_at is None or utcnow() - aware(row.last_used_at) >= TOUCH_EVERY:
                _touch(request, touch_token, row.id)
            user = db.get(User, row.user_id)
    else:
        user = session_user(request, db)
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
    # An id no column can hold exists nowhere (and would fail the query): callers other than the
    # routes' typed path parameters (the web pages) pass any integer.
    q = db.get(Questionnaire, questionnaire_id) if 0 < questionnaire_id <= MAX_ID else None
    _member_with(db, user, q.workspace_id if q else None, needed, f"no questionnaire {questionnaire_id}")
    return q


def item_for(db: Session, user: User, item_id: int, needed: str) -> Item:
    item = db.get(Item, item_id) if 0 < item_id <= MAX_ID else None
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
