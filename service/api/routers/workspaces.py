"""Workspaces and their members."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from service import audit
from service.accounts import members, role_in, set_role, user_by_email, workspaces_of
from service.api.deps import DB, CurrentUser, WorkspaceAdmin, WorkspaceViewer
from service.api.schemas import MemberIn, WorkspaceIn, WorkspaceOut
from service.knowledge_base import WorkspaceNotFound, get_or_create_workspace, get_workspace

router = APIRouter(tags=["workspaces"])


@router.get("/workspaces", response_model=list[WorkspaceOut])
def my_workspaces(user: CurrentUser, db: DB) -> list[WorkspaceOut]:
    return [WorkspaceOut(name=ws.name, role=role) for ws, role in workspaces_of(db, user)]


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201)
def create_workspace(body: WorkspaceIn, user: CurrentUser, db: DB) -> WorkspaceOut:
    """Create a workspace; its creator becomes its admin."""
    try:
        get_workspace(db, body.name)
    except WorkspaceNotFound:
        pass
    else:
        raise HTTPException(409, f"workspace '{body.name}' exists already")
    set_role(db, user, body.name, "admin")
    audit.record(db, get_or_create_workspace(db, body.name).id, "workspace.create", user, after={"name": body.name})
    db.commit()
    return WorkspaceOut(name=body.name, role="admin")


@router.get("/workspaces/{workspace}/members", response_model=list[MemberIn])
def list_members(ws: WorkspaceViewer, db: DB) -> list[MemberIn]:
    return [MemberIn(email=email, role=role) for email, role in members(db, ws)]


@router.put("/workspaces/{workspace}/members", response_model=WorkspaceOut)
def add_member(ws: WorkspaceAdmin, body: MemberIn, user: CurrentUser, db: DB) -> WorkspaceOut:
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
