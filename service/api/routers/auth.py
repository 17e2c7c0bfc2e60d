"""Signing in (session cookie for the UI), API tokens, who am I."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from service.accounts import User, authenticate, create_token
from service.api.deps import DB, CurrentUser
from service.api.schemas import Login, TokenIn, TokenOut, UserOut

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=UserOut)
def login(body: Login, request: Request, db: DB) -> User:
    """Sign in for the web UI (a session cookie)."""
    user = authenticate(db, body.email, body.password)
    if user is None:
        raise HTTPException(401, "wrong email or password")
    db.commit()
    request.session["user_id"] = user.id
    return user


@router.post("/auth/logout", status_code=204)
def logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)


@router.post("/auth/tokens", response_model=TokenOut)
def new_token(body: TokenIn, user: CurrentUser, db: DB) -> TokenOut:
    """A new API token for the caller, shown once."""
    token = create_token(db, user, body.name)
    db.commit()
    return TokenOut(token=token)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> User:
    return user
