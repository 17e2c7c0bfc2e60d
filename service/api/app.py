"""The FastAPI application over the core."""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from collections import Counter
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.accounts import AccountError, LoginThrottle
from service.api.deps import make_sessions
from service.api.limits import MB, BodySizeLimit, NoNulInUrl
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

log = logging.getLogger(__name__)


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


class ServerErrors:
    """The outermost of our middlewares: an exception no handler turned into an answer is logged with
    its traceback and a reference, counted (app.state.server_errors, by exception type), and answered
    500 here. It is not raised further: Starlette's last-resort handler would re-raise it to uvicorn,
    which then closes the keep-alive connection, so the client's next request on it would fail too.
    """

    def __init__(self, app: ASGIApp, counts: Counter[str]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            reference = uuid.uuid4().hex[:12]
            self.counts[type(exc).__name__] += 1
            log.exception("internal error %s on %s %s", reference, scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response is on the wire: only closing the connection can end it
            body = json.dumps({"detail": f"internal error (reference {reference}); it was logged"}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"cache-control", b"no-store"),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})


def _database_refusal(exc: DataError) -> str:
    """The database's own reason (psycopg: "value too long for type character varying(20)", "PostgreSQL
    text fields cannot contain NUL (0x00) bytes"), without the statement or its parameters."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()
    return reason[0] if reason else type(exc).__name__


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
    # no NUL character anywhere in the URL (422: PostgreSQL refuses it in any query);
    app.add_middleware(NoNulInUrl)
    # limits on the request itself (body size), before anything reads it;
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_mb * MB)
    # an unexpected error is logged, counted and answered 500 with the connection kept open;
    app.state.server_errors = Counter()
    app.add_middleware(ServerErrors, counts=app.state.server_errors)
    # outermost: security headers on every response (a 413 or a 500 too), and cookie-authenticated
    # writes only from this site's origin.
    app.add_middleware(BrowserSecurity, trusted_origins=settings.trusted_origins, force_hsts=settings.hsts)
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

    # What input validation did not catch and the database refused: a 4xx for the client, logged and
    # counted (app.state.server_errors) as a gap in validation to close.
    @app.exception_handler(DataError)
    async def database_refused(request: Request, exc: DataError) -> JSONResponse:
        app.state.server_errors["DataError"] += 1
        reason = _database_refusal(exc)
        log.warning("the database refused a value on %s %s: %s", request.method, request.url.path, reason)
        return JSONResponse({"detail": f"a value was refused by the database: {reason}"}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def conflict(request: Request, exc: IntegrityError) -> JSONResponse:
        app.state.server_errors["IntegrityError"] += 1
        log.warning("integrity conflict on %s %s: %s", request.method, request.url.path, _database_refusal(exc))
        return JSONResponse({"detail": "this conflicts with a change made meanwhile; reload and retry"}, 409)

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError) -> JSONResponse:
        reason = _database_refusal(exc)
        if "locked" not in reason and "busy" not in reason:
            raise exc  # a real fault (a missing table, a lost server): ServerErrors logs it as a 500
        app.state.server_errors["database_locked"] += 1
        log.warning("database busy on %s %s: %s", request.method, request.url.path, reason)
        return JSONResponse({"detail": "the database is busy; retry shortly"}, 503, headers={"Retry-After": "1"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"detail": problems}, status_code=422)

    return app
