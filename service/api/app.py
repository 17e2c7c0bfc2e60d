"""The FastAPI application over the core."""

from __future__ import annotations

import os
import secrets
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.middleware.sessions import SessionMiddleware

from service.accounts import AccountError, LoginThrottle
from service.api.deps import make_sessions
from service.api.limits import MB, BodySizeLimit
from service.api.presenters import item_out
from service.api.routers import router
from service.api.security import BrowserSecurity
from service.export import ExportError
from service.ingest import IngestError
from service.jobs import get_jobs
from service.knowledge_base import KnowledgeBase
from service.questionnaires import Item
from service.review import ReviewError, StaleVersion
from service.settings import Settings, get_settings
from service.web import router as web_router
from service.web import static_files


def secret_key(settings: Settings) -> str:
    """KOTAE_SECRET_KEY, or one generated once and kept in KOTAE_HOME."""
    if settings.secret_key:
        return settings.secret_key.get_secret_value()
    path = settings.home_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    kb = KnowledgeBase(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="Kotae",
        description="Drafts answers to security questionnaires from past answers; reviewers accept, edit or reject.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.kb = kb
    app.state.sessions = make_sessions(settings.resolved_database_url)
    app.state.jobs = get_jobs(kb)
    app.state.login_throttle = LoginThrottle(  # in this process's memory: see service/accounts/throttle.py
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window_seconds=settings.login_window_minutes * 60,
    )
    # Middlewares, innermost first (each add_middleware wraps the ones before it):
    # the signed cookie carries only a session id (sessions live in the database, service/accounts/sessions.py);
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        max_age=round(settings.session_hours * 3600),
        same_site="strict",
        https_only=settings.secure_cookies,
    )  # HttpOnly always
    # security headers on every response, and cookie-authenticated writes only from this site's origin;
    app.add_middleware(BrowserSecurity, trusted_origins=settings.trusted_origins, force_hsts=settings.hsts)
    # outermost: limits on the request itself (body size), before anything reads it.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_mb * MB)
    app.include_router(router)
    app.include_router(web_router)
    app.mount("/static", static_files, name="static")

    @app.exception_handler(StaleVersion)
    async def stale(request: Request, exc: StaleVersion) -> JSONResponse:
        with app.state.sessions() as session:
            current = session.get(Item, exc.item_id)
            body = {"detail": str(exc), "current": item_out(session, current).model_dump(mode="json")}
        return JSONResponse(body, status_code=409)

    @app.exception_handler(StaleDataError)
    async def stale_write(request: Request, exc: StaleDataError) -> JSONResponse:
        return JSONResponse({"detail": "the item was changed by someone else meanwhile; reload it"}, status_code=409)

    @app.exception_handler(AccountError)
    async def account_error(request: Request, exc: AccountError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, exc: ReviewError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(ExportError)
    async def export_error(request: Request, exc: ExportError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(IngestError)
    async def ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems}, status_code=422)

    return app
