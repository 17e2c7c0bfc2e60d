"""Workspaces and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from service import accounts, audit
from service.accounts import (
    members,
    remove_member,
    role_in,
    set_role,
    user_by_email,
    workspaces_of,
)
from service.api.deps import DB, CurrentUser, WorkspaceAdmin, WorkspaceViewer
from service.api.schemas import MemberIn, WorkspaceIn, WorkspaceOut
from service.settings import Settings

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces", response_model=list[WorkspaceOut])
def my_workspaces(user: CurrentUser, db: DB) -> list[WorkspaceOut]:
    return [WorkspaceOut(name=ws.name, role=role) for ws, role in workspaces_of(db, user)]


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201)
def create_workspace(body: WorkspaceIn, request: Request, user: CurrentUser, db: DB) -> WorkspaceOut:
    """Create a workspace; its creator becomes its admin. Only instance admins may (403 for others,
    whether or not the name is taken), unless KOTAE_OPEN_WORKSPACE_CREATION is set. Names are 1-64
    characters of a-z, 0-9, '-', '_' and '.'."""
    settings: Settings = request.app.state.settings
    ws = accounts.create_workspace(db, user, body.name, open_creation=settings.open_workspace_creation)
    audit.record(db, ws.id, "workspace.create", user, after={"name": ws.name})
    db.commit()
    return WorkspaceOut(name=ws.name, role="admin")


@router.get("/workspaces/{workspace}/members", response_model=list[MemberIn])
def list_members(ws: WorkspaceViewer, db: DB) -> list[MemberIn]:
    return [MemberIn(email=email, role=role) for email, role in members(db, ws)]


@router.put("/workspaces/{workspace}/members", response_model=WorkspaceOut)
def add_member(ws: WorkspaceAdmin, body: MemberIn, user: CurrentUser, db: DB) -> WorkspaceOut:
    """Give a user a role here, or change it. The last admin cannot be demoted (409)."""
    member = user_by_email(db, body.email)
    if member is None:
        raise HTTPException(404, f"no user {body.email}")
    before = role_in(db, member, ws.id)
    set_role(db, member, ws.name, body.role)
    audit.record(
        db,
        ws.id,
        "workspace.member",
        user,
        before={"email": member.email, "role": before},
        after={"email": member.email, "role": body.role},
    )
    db.commit()
    return WorkspaceOut(name=ws.name, role=body.role)


@router.delete("/workspaces/{workspace}/members", status_code=204)
def delete_member(
    ws: WorkspaceAdmin, email: Annotated[str, Query(max_length=320)], user: CurrentUser, db: DB
) -> Response:
    """Take a user out of the workspace. The last admin cannot be removed (409)."""
    member = user_by_email(db, email)
    before = remove_member(db, member, ws) if member is not None else None
    if member is None or before is None:
        raise HTTPException(404, f"{email} is not a member of '{ws.name}'")
    audit.record(db, ws.id, "workspace.member", user, before={"email": member.email, "role": before}, after=None)
    db.commit()
    return Response(status_code=204)
