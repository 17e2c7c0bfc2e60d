from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from service.accounts import has_role, role_in, workspaces_of
from service.accounts.models import User
from service.api.deps import DB, questionnaire_for, session_user
from service.api.schemas import as_utc
from service.knowledge_base import Workspace

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Pages print times as UTC: PostgreSQL hands them back in the session's zone, SQLite without one.
templates.env.filters["utc"] = lambda moment: as_utc(moment).strftime("%Y-%m-%d %H:%M")
static_files = StaticFiles(directory=str(HERE / "static"))
router = APIRouter(include_in_schema=False)


def _user(request: Request, db: DB) -> User | None:
    return session_user(request, db)


def _page(request: Request, db: DB, template: str, user: User, workspace: str | None, **context: object) -> Response:
    mine = workspaces_of(db, user)
    names = [ws.name for ws, _ in mine]
    current = workspace if workspace in names else (names[0] if names else None)
    role = dict((ws.name, r) for ws, r in mine).get(current) if current else None
    return templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "workspaces": names,
            "workspace": current,
            "role": role,
            "can_review": has_role(role, "reviewer"),
            "is_admin": has_role(role, "admin"),
            **context,
        },
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {})


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, db: DB, ws: str | None = None) -> Response:
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, db, "dashboard.html", user, ws)


@router.get("/kb", response_class=HTMLResponse)
def knowledge_base(request: Request, db: DB, ws: str | None = None) -> Response:
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, db, "kb.html", user, ws)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, db: DB, ws: str | None = None) -> Response:
    """Members and roles, the user's API tokens, and (for admins) the workspace's activity."""
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return _page(request, db, "admin.html", user, ws)


def _questionnaire_page(request: Request, db: DB, questionnaire_id: int, template: str) -> Response:
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    try:
        q = questionnaire_for(db, user, questionnaire_id, "viewer")
    except HTTPException:
        return templates.TemplateResponse(request, "missing.html", {"user": user}, status_code=404)
    workspace = db.get(Workspace, q.workspace_id).name
    role = role_in(db, user, q.workspace_id)
    return _page(
        request, db, template, user, workspace, questionnaire=q, role=role, can_review=has_role(role, "reviewer")
    )


@router.get("/q/{questionnaire_id}", response_class=HTMLResponse)
def review_page(request: Request, db: DB, questionnaire_id: int) -> Response:
    return _questionnaire_page(request, db, questionnaire_id, "review.html")


@router.get("/q/{questionnaire_id}/audit", response_class=HTMLResponse)
def audit_page(request: Request, db: DB, questionnaire_id: int) -> Response:
    return _questionnaire_page(request, db, questionnaire_id, "audit.html")
