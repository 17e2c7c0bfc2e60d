"""Signing in (a server-side session behind the cookie, for the UI), API tokens, passwords, who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from service.accounts import (
    LoginThrottle,
    TokenNotFound,
    User,
    WrongPassword,
    authenticate,
    change_password,
    end_session,
    issue_token,
    list_tokens,
    revoke_token,
    start_session,
)
from service.accounts.models import aware
from service.api.deps import DB, MAX_ID, SESSION_KEY, CurrentUser, bearer_token, session_id
from service.api.schemas import ErrorOut, Login, RequestBody, TokenIn, TokenOut, UserOut, UtcDateTime
from service.knowledge_base.models import utcnow
from service.settings import Settings

router = APIRouter(tags=["auth"])
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
TOO_MANY = {429: {"model": ErrorOut, "description": "Too many failed attempts; see Retry-After."}}


class NewTokenIn(TokenIn):
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="The token stops working after this many days; default: never."
    )


class NewTokenOut(TokenOut):
    id: int
    name: str
    expires_at: UtcDateTime | None


class TokenInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    created_at: UtcDateTime
    last_used_at: UtcDateTime | None
    expires_at: UtcDateTime | None
    expired: bool = False


class PasswordChange(RequestBody):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


def _throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _refuse_if_throttled(request: Request, account: str) -> None:
    wait = _throttle(request).retry_after(account, _address(request))
    if wait:
        raise HTTPException(
            429,
            f"too many failed attempts: try again in {max(1, round(wait / 60))} minute(s)",
            headers={"Retry-After": str(wait)},
        )


@router.post("/auth/login", response_model=UserOut, responses=TOO_MANY)
def login(body: Login, request: Request, db: DB) -> User:
    """Sign in for the web UI (a session cookie). Repeated failures for one account or from one
    address are refused for a while with 429 and Retry-After."""
    account = body.email.strip().lower()
    _refuse_if_throttled(request, account)
    user = authenticate(db, body.email, body.password)
    if user is None:
        _throttle(request).failed(account, _address(request))
        raise HTTPException(401, "wrong email or password")
    _throttle(request).succeeded(account)
    settings: Settings = request.app.state.settings
    old = session_id(request)
    if old:
        end_session(db, old)
    key = start_session(db, user, timedelta(hours=settings.session_hours))
    db.commit()
    request.session.clear()  # a new id at every sign-in: no session fixation
    request.session[SESSION_KEY] = key
    return user


@router.post("/auth/logout", status_code=204)
def logout(request: Request, db: DB) -> Response:
    """Sign out: the session ends on the server, so the old cookie no longer works anywhere."""
    key = session_id(request)
    if key:
        end_session(db, key)
        db.commit()
    request.session.clear()
    return Response(status_code=204)


@router.post("/auth/password", status_code=204, responses=TOO_MANY)
def new_password(body: PasswordChange, request: Request, user: CurrentUser, db: DB) -> Response:
    """Change one's own password, giving the current one. Every other session of the user ends
    (this one stays signed in); API tokens keep working."""
    _refuse_if_throttled(request, user.email)
    keep = session_id(request) if bearer_token(request) is None else None
    try:
        change_password(db, user, body.current_password, body.new_password, keep_session=keep)
    except WrongPassword:
        _throttle(request).failed(user.email, _address(request))
        raise
    db.commit()
    return Response(status_code=204)


@router.post("/auth/tokens", response_model=NewTokenOut)
def new_token(body: NewTokenIn, user: CurrentUser, db: DB) -> NewTokenOut:
    """A new API token for the caller, shown once; optionally expiring."""
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, token = issue_token(db, user, body.name, expires)
    db.commit()
    return NewTokenOut(token=token, id=row.id, name=row.name, expires_at=row.expires_at)


@router.get("/auth/tokens", response_model=list[TokenInfo])
def my_tokens(user: CurrentUser, db: DB) -> list[TokenInfo]:
    """The caller's API tokens that are not revoked (never their values), newest first."""
    now = utcnow()
    return [
        TokenInfo.model_validate(row).model_copy(
            update={"expired": row.expires_at is not None and aware(row.expires_at) <= now}
        )
        for row in list_tokens(db, user)
    ]


@router.delete("/auth/tokens/{token_id}", status_code=204)
def delete_token(token_id: TokenId, user: CurrentUser, db: DB) -> Response:
    """Revoke one of the caller's tokens; it stops working at once."""
    try:
        revoke_token(db, user, token_id)
    except TokenNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    db.commit()
    return Response(status_code=204)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user
