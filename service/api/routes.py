"""HTTP routes. Each one checks the caller's role, calls the core, and commits its own change."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, Response, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.accounts.service import authenticate, create_token, role_in, set_role, user_by_email, workspaces_of
from service.api.deps import DB, CurrentUser, item_for, questionnaire_for, workspace_for
from service.api.schemas import (
    AssignIn,
    AuditOut,
    BulkAcceptIn,
    BulkAcceptOut,
    CitationOut,
    CommentIn,
    CommentOut,
    EditIn,
    EntryOut,
    ErrorOut,
    IngestResult,
    ItemOut,
    Login,
    MemberIn,
    QuestionnaireOut,
    TokenIn,
    TokenOut,
    UserOut,
    VersionIn,
    WorkspaceIn,
    WorkspaceOut,
)
from service.ingest import SUPPORTED, IngestError
from service.knowledge_base import delete_source
from service.knowledge_base import list_sources as sources
from service.knowledge_base.models import Entry, Workspace
from service.knowledge_base.service import get_or_create_workspace
from service.review import service as review
from service.review.models import Item, Questionnaire

# Every error is `{"detail": ...}`; a stale edit's 409 also carries the current item.
router = APIRouter(
    prefix="/api",
    responses={code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 415, 422)},
)
CHUNK = 1024 * 1024


def _kb(request: Request):  # noqa: ANN202
    return request.app.state.kb


def _jobs(request: Request):  # noqa: ANN202
    return request.app.state.jobs


async def read_upload(request: Request, upload: UploadFile) -> tuple[str, bytes]:
    """The upload's name and bytes, refused early when too large or of an unknown type."""
    name = (upload.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUPPORTED:
        raise HTTPException(415, f"{name or 'the upload'}: unsupported file type; supported: {', '.join(SUPPORTED)}")
    limit = _kb(request).limits.max_file_bytes
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise HTTPException(413, f"{name}: larger than the {limit // (1024 * 1024)} MB limit")
    return name, bytes(data)


# --------------------------------------------------------------------------- auth


@router.post("/auth/login", response_model=UserOut, tags=["auth"])
def login(body: Login, request: Request, db: DB) -> User:
    """Sign in for the web UI (a session cookie)."""
    user = authenticate(db, body.email, body.password)
    if user is None:
        raise HTTPException(401, "wrong email or password")
    db.commit()
    request.session["user_id"] = user.id
    return user


@router.post("/auth/logout", status_code=204, tags=["auth"])
def logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)


@router.post("/auth/tokens", response_model=TokenOut, tags=["auth"])
def new_token(body: TokenIn, user: CurrentUser, db: DB) -> TokenOut:
    """A new API token for the caller, shown once."""
    token = create_token(db, user, body.name)
    db.commit()
    return TokenOut(token=token)


@router.get("/me", response_model=UserOut, tags=["auth"])
def me(user: CurrentUser) -> User:
    return user


# --------------------------------------------------------------------------- workspaces


@router.get("/workspaces", response_model=list[WorkspaceOut], tags=["workspaces"])
def my_workspaces(user: CurrentUser, db: DB) -> list[WorkspaceOut]:
    return [WorkspaceOut(name=ws.name, role=role) for ws, role in workspaces_of(db, user)]


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201, tags=["workspaces"])
def create_workspace(body: WorkspaceIn, user: CurrentUser, db: DB) -> WorkspaceOut:
    """Create a workspace; its creator becomes its admin."""
    if db.scalar(select(Workspace).where(Workspace.name == body.name)) is not None:
        raise HTTPException(409, f"workspace '{body.name}' exists already")
    set_role(db, user, body.name, "admin")
    review.audit(db, get_or_create_workspace(db, body.name).id, "workspace.create", user, after={"name": body.name})
    db.commit()
    return WorkspaceOut(name=body.name, role="admin")


@router.get("/workspaces/{workspace}/members", response_model=list[MemberIn], tags=["workspaces"])
def list_members(workspace: str, user: CurrentUser, db: DB) -> list[MemberIn]:
    ws = workspace_for(db, user, workspace, "viewer")
    from service.accounts.models import Membership

    rows = db.execute(
        select(User.email, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == ws.id)
        .order_by(User.email)
    ).all()
    return [MemberIn(email=email, role=role) for email, role in rows]


@router.put("/workspaces/{workspace}/members", response_model=WorkspaceOut, tags=["workspaces"])
def add_member(workspace: str, body: MemberIn, user: CurrentUser, db: DB) -> WorkspaceOut:
    ws = workspace_for(db, user, workspace, "admin")
    member = user_by_email(db, body.email)
    if member is None:
        raise HTTPException(404, f"no user {body.email}")
    before = role_in(db, member, ws.id)
    set_role(db, member, workspace, body.role)
    review.audit(
        db,
        ws.id,
        "workspace.member",
        user,
        before={"email": member.email, "role": before},
        after={"email": member.email, "role": body.role},
    )
    db.commit()
    return WorkspaceOut(name=workspace, role=body.role)


# --------------------------------------------------------------------------- knowledge base


def _entry_out(entry: Entry, score: float | None = None) -> EntryOut:
    return EntryOut(
        id=entry.id,
        source=entry.source.name,
        locator=entry.locator,
        sheet=entry.sheet,
        section=entry.section,
        question=entry.question,
        choice=entry.choice,
        answer=entry.answer,
        product=entry.product,
        language=entry.language,
        provenance=entry.provenance,
        score=score,
    )


@router.post("/workspaces/{workspace}/kb/files", response_model=list[IngestResult], tags=["knowledge base"])
async def ingest_files(
    workspace: str,
    request: Request,
    user: CurrentUser,
    db: DB,
    files: Annotated[list[UploadFile], File(description="Past answered sheets and policies.")],
    product: Annotated[str | None, Form()] = None,
) -> list[IngestResult]:
    """Ingest files into the knowledge base; each file on its own, a bad one reported, not fatal."""
    workspace_for(db, user, workspace, "admin")
    kb = _kb(request)
    results = []
    for upload in files:
        try:
            name, data = await read_upload(request, upload)
            summary = kb.ingest_bytes(db, workspace, name, data, product)
            review.audit(
                db,
                get_or_create_workspace(db, workspace).id,
                "kb.ingest",
                user,
                after={"file": name, "entries": summary.entries},
            )
            db.commit()
            results.append(IngestResult(file=name, entries=summary.entries, skipped=len(summary.skipped)))
        except (IngestError, HTTPException) as exc:
            db.rollback()
            message = str(exc) if isinstance(exc, IngestError) else exc.detail
            results.append(IngestResult(file=upload.filename or "", error=message))
    _jobs(request).sync(workspace)
    return results


@router.get("/workspaces/{workspace}/kb/entries", response_model=list[EntryOut], tags=["knowledge base"])
def list_entries(
    workspace: str,
    request: Request,
    user: CurrentUser,
    db: DB,
    q: Annotated[str | None, Query(description="Search text (hybrid retrieval).")] = None,
    product: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[EntryOut]:
    ws = workspace_for(db, user, workspace, "viewer")
    if q:
        return [_entry_out(h.entry, h.score) for h in _kb(request).search(db, workspace, q, k=limit, product=product)]
    entries = db.scalars(
        select(Entry)
        .where(Entry.workspace_id == ws.id)
        .order_by(Entry.source_id, Entry.row)
        .limit(limit)
        .offset(offset)
    )
    return [_entry_out(e) for e in entries]


@router.get("/workspaces/{workspace}/kb/sources", tags=["knowledge base"])
def list_sources(workspace: str, user: CurrentUser, db: DB) -> list[dict[str, object]]:
    ws = workspace_for(db, user, workspace, "viewer")
    return [
        {"name": s.name, "kind": s.kind, "entries": n, "sheet_date": s.sheet_date, "ingested_at": s.ingested_at}
        for s, n in sources(db, ws)
    ]


@router.delete("/workspaces/{workspace}/kb/sources/{name}", status_code=204, tags=["knowledge base"])
def remove_source(workspace: str, name: str, request: Request, user: CurrentUser, db: DB) -> Response:
    ws = workspace_for(db, user, workspace, "admin")
    try:
        removed = delete_source(db, ws, name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    review.audit(db, ws.id, "kb.delete_source", user, before={"source": name, "entries": removed})
    db.commit()
    _jobs(request).sync(workspace)
    return Response(status_code=204)


# --------------------------------------------------------------------------- questionnaires


def _questionnaire_out(db: Session, q: Questionnaire) -> QuestionnaireOut:
    done, failed = review.progress(db, q)
    return QuestionnaireOut(
        id=q.id,
        workspace=db.get(Workspace, q.workspace_id).name,
        name=q.name,
        product=q.product,
        status=q.status,
        total=q.total,
        done=done,
        failed=failed,
        counts=review.status_counts(db, q),
        created_at=q.created_at,
    )


def _item_out(db: Session, item: Item) -> ItemOut:
    assignee = db.get(User, item.assignee_id).email if item.assignee_id else None
    return ItemOut(
        id=item.id,
        questionnaire_id=item.questionnaire_id,
        position=item.position,
        ref=item.ref,
        question=item.question,
        language=item.language,
        status=item.status,
        choice=item.choice,
        answer=item.answer,
        draft_choice=item.draft_choice,
        draft_answer=item.draft_answer,
        confidence=item.confidence,
        drafter=item.drafter,
        citations=[CitationOut(**c) for c in item.citations or []],
        assignee=assignee,
        version=item.version,
        error=item.error,
    )


@router.post(
    "/workspaces/{workspace}/questionnaires", response_model=QuestionnaireOut, status_code=202, tags=["questionnaires"]
)
async def upload_questionnaire(
    workspace: str,
    request: Request,
    user: CurrentUser,
    db: DB,
    file: Annotated[UploadFile, File(description="The customer's questionnaire: xlsx, csv, docx, md or txt.")],
    product: Annotated[str | None, Form()] = None,
) -> QuestionnaireOut:
    """Upload a questionnaire; drafting starts in the background (poll the questionnaire for progress)."""
    ws = workspace_for(db, user, workspace, "reviewer")
    name, data = await read_upload(request, file)
    try:
        q = review.create_questionnaire(db, _kb(request), ws, name, data, user, product)
    except IngestError as exc:
        raise HTTPException(422, str(exc)) from None
    db.commit()
    _jobs(request).draft(q.id)
    return _questionnaire_out(db, q)


@router.get("/workspaces/{workspace}/questionnaires", response_model=list[QuestionnaireOut], tags=["questionnaires"])
def list_questionnaires(workspace: str, user: CurrentUser, db: DB) -> list[QuestionnaireOut]:
    ws = workspace_for(db, user, workspace, "viewer")
    rows = db.scalars(
        select(Questionnaire).where(Questionnaire.workspace_id == ws.id).order_by(Questionnaire.id.desc())
    )
    return [_questionnaire_out(db, q) for q in rows]


@router.get("/questionnaires/{questionnaire_id}", response_model=QuestionnaireOut, tags=["questionnaires"])
def get_questionnaire(questionnaire_id: int, user: CurrentUser, db: DB) -> QuestionnaireOut:
    return _questionnaire_out(db, questionnaire_for(db, user, questionnaire_id, "viewer"))


@router.get("/questionnaires/{questionnaire_id}/items", response_model=list[ItemOut], tags=["questionnaires"])
def get_items(
    questionnaire_id: int,
    user: CurrentUser,
    db: DB,
    status: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> list[ItemOut]:
    q = questionnaire_for(db, user, questionnaire_id, "viewer")
    return [_item_out(db, i) for i in review.list_items(db, q, status, min_confidence)]


@router.post("/questionnaires/{questionnaire_id}/bulk-accept", response_model=BulkAcceptOut, tags=["review"])
def bulk_accept(
    questionnaire_id: int, body: BulkAcceptIn, request: Request, user: CurrentUser, db: DB
) -> BulkAcceptOut:
    q = questionnaire_for(db, user, questionnaire_id, "reviewer")
    accepted = review.bulk_accept(db, q, user, body.min_confidence)
    db.commit()
    _jobs(request).sync(db.get(Workspace, q.workspace_id).name)
    return BulkAcceptOut(accepted=len(accepted))


@router.get(
    "/questionnaires/{questionnaire_id}/export",
    tags=["questionnaires"],
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def export(
    questionnaire_id: int,
    user: CurrentUser,
    db: DB,
    format: Literal["original", "json", "csv"] = "original",  # noqa: A002 - the query parameter's name
    include: Literal["approved", "all"] = "approved",
) -> Response:
    """The answered questionnaire: the customer's own file filled in, or JSON, or CSV."""
    q = questionnaire_for(db, user, questionnaire_id, "reviewer")
    content, media, filename = review.export(q, format, include_all=include == "all")
    review.audit(
        db,
        q.workspace_id,
        "questionnaire.export",
        user,
        questionnaire_id=q.id,
        after={"format": format, "include": include},
    )
    db.commit()
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/questionnaires/{questionnaire_id}/audit", response_model=list[AuditOut], tags=["questionnaires"])
def audit_log(questionnaire_id: int, user: CurrentUser, db: DB) -> list[AuditOut]:
    q = questionnaire_for(db, user, questionnaire_id, "viewer")
    emails = {u.id: u.email for u in db.scalars(select(User))}
    return [
        AuditOut(
            id=e.id,
            at=e.at,
            user=emails.get(e.user_id),
            action=e.action,
            item_id=e.item_id,
            before=e.before,
            after=e.after,
        )
        for e in review.audit_log(db, q)
    ]


# --------------------------------------------------------------------------- items


def _after_change(request: Request, db: Session, item: Item) -> ItemOut:
    db.commit()
    q = db.get(Questionnaire, item.questionnaire_id)
    _jobs(request).sync(db.get(Workspace, q.workspace_id).name)
    return _item_out(db, item)


@router.get("/items/{item_id}", response_model=ItemOut, tags=["review"])
def get_item(item_id: int, user: CurrentUser, db: DB) -> ItemOut:
    return _item_out(db, item_for(db, user, item_id, "viewer"))


@router.post("/items/{item_id}/accept", response_model=ItemOut, tags=["review"])
def accept(item_id: int, body: VersionIn, request: Request, user: CurrentUser, db: DB) -> ItemOut:
    item = item_for(db, user, item_id, "reviewer")
    return _after_change(request, db, review.accept(db, item, user, body.version))


@router.post("/items/{item_id}/edit", response_model=ItemOut, tags=["review"])
def edit(item_id: int, body: EditIn, request: Request, user: CurrentUser, db: DB) -> ItemOut:
    item = item_for(db, user, item_id, "reviewer")
    return _after_change(request, db, review.edit(db, item, user, body.version, body.choice, body.answer))


@router.post("/items/{item_id}/reject", response_model=ItemOut, tags=["review"])
def reject(item_id: int, body: VersionIn, request: Request, user: CurrentUser, db: DB) -> ItemOut:
    item = item_for(db, user, item_id, "reviewer")
    return _after_change(request, db, review.reject(db, item, user, body.version))


@router.post("/items/{item_id}/needs-expert", response_model=ItemOut, tags=["review"])
def needs_expert(item_id: int, body: VersionIn, request: Request, user: CurrentUser, db: DB) -> ItemOut:
    item = item_for(db, user, item_id, "reviewer")
    return _after_change(request, db, review.needs_expert(db, item, user, body.version))


@router.post("/items/{item_id}/assign", response_model=ItemOut, tags=["review"])
def assign(item_id: int, body: AssignIn, user: CurrentUser, db: DB) -> ItemOut:
    item = item_for(db, user, item_id, "reviewer")
    assignee = None
    if body.assignee:
        assignee = user_by_email(db, body.assignee)
        workspace_id = db.get(Questionnaire, item.questionnaire_id).workspace_id
        if assignee is None or role_in(db, assignee, workspace_id) is None:
            raise HTTPException(422, f"{body.assignee} is not a member of this workspace")
    review.assign(db, item, user, body.version, assignee)
    db.commit()
    return _item_out(db, item)


@router.post("/items/{item_id}/comments", response_model=CommentOut, status_code=201, tags=["review"])
def comment(item_id: int, body: CommentIn, user: CurrentUser, db: DB) -> CommentOut:
    item = item_for(db, user, item_id, "reviewer")
    c = review.add_comment(db, item, user, body.text)
    db.commit()
    return CommentOut(id=c.id, user=user.email, text=c.text, created_at=c.created_at)


@router.get("/items/{item_id}/comments", response_model=list[CommentOut], tags=["review"])
def get_comments(item_id: int, user: CurrentUser, db: DB) -> list[CommentOut]:
    item = item_for(db, user, item_id, "viewer")
    emails = {u.id: u.email for u in db.scalars(select(User))}
    return [
        CommentOut(id=c.id, user=emails.get(c.user_id), text=c.text, created_at=c.created_at)
        for c in review.comments(db, item)
    ]
