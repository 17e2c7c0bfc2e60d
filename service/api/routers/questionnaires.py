"""Questionnaires: upload (drafting starts in the background), progress, items, bulk accept, export, audit."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from service import audit, review
from service.api.deps import (
    DB,
    KB,
    CurrentUser,
    JobRunner,
    QuestionnaireReviewer,
    QuestionnaireViewer,
    WorkspaceReviewer,
    WorkspaceViewer,
)
from service.api.presenters import item_out, questionnaire_out
from service.api.schemas import AuditOut, BulkAcceptIn, BulkAcceptOut, ItemOut, QuestionnaireOut
from service.api.uploads import read_upload
from service.export import export_questionnaire
from service.knowledge_base import Workspace
from service.questionnaires import create_questionnaire, list_items, questionnaires_of

router = APIRouter(tags=["questionnaires"])


@router.post("/workspaces/{workspace}/questionnaires", response_model=QuestionnaireOut, status_code=202)
async def upload_questionnaire(
    ws: WorkspaceReviewer,
    kb: KB,
    jobs: JobRunner,
    user: CurrentUser,
    db: DB,
    file: Annotated[UploadFile, File(description="The customer's questionnaire: xlsx, csv, docx, md or txt.")],
    product: Annotated[str | None, Form()] = None,
) -> QuestionnaireOut:
    """Upload a questionnaire; drafting starts in the background (poll the questionnaire for progress).

    An unreadable file is a 422 naming the file, sheet and row.
    """
    name, data = await read_upload(file, kb.limits.max_file_bytes)
    # Parsing is CPU work: off the event loop, so other requests keep being answered.
    q = await run_in_threadpool(create_questionnaire, db, ws, name, data, user, product, kb.limits)
    db.commit()
    jobs.draft(q.id)
    return questionnaire_out(db, q)


@router.get("/workspaces/{workspace}/questionnaires", response_model=list[QuestionnaireOut])
def list_questionnaires(ws: WorkspaceViewer, db: DB) -> list[QuestionnaireOut]:
    return [questionnaire_out(db, q) for q in questionnaires_of(db, ws)]


@router.get("/questionnaires/{questionnaire_id}", response_model=QuestionnaireOut)
def get_questionnaire(q: QuestionnaireViewer, db: DB) -> QuestionnaireOut:
    return questionnaire_out(db, q)


@router.get("/questionnaires/{questionnaire_id}/items", response_model=list[ItemOut])
def get_items(
    q: QuestionnaireViewer,
    db: DB,
    status: str | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> list[ItemOut]:
    return [item_out(db, i) for i in list_items(db, q, status, min_confidence)]


@router.post("/questionnaires/{questionnaire_id}/bulk-accept", response_model=BulkAcceptOut, tags=["review"])
def bulk_accept(
    q: QuestionnaireReviewer, body: BulkAcceptIn, jobs: JobRunner, user: CurrentUser, db: DB
) -> BulkAcceptOut:
    accepted = review.bulk_accept(db, q, user, body.min_confidence)
    db.commit()
    jobs.sync(db.get(Workspace, q.workspace_id).name)
    return BulkAcceptOut(accepted=len(accepted))


def attachment(filename: str) -> str:
    """Content-Disposition for any file name: an ASCII fallback and the real name per RFC 5987."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/questionnaires/{questionnaire_id}/export", responses={200: {"content": {"application/octet-stream": {}}}})
def export(
    q: QuestionnaireReviewer,
    user: CurrentUser,
    db: DB,
    format: Literal["original", "json", "csv"] = "original",  # noqa: A002 - the query parameter's name
    include: Literal["approved", "all"] = "approved",
) -> Response:
    """The answered questionnaire: the customer's own file filled in, or JSON, or CSV."""
    exported = export_questionnaire(q, format, include_all=include == "all")
    audit.record(
        db,
        q.workspace_id,
        "questionnaire.export",
        user,
        questionnaire_id=q.id,
        after={"format": format, "include": include},
    )
    db.commit()
    return Response(
        exported.content, media_type=exported.media_type, headers={"Content-Disposition": attachment(exported.filename)}
    )


@router.get("/questionnaires/{questionnaire_id}/audit", response_model=list[AuditOut])
def audit_log(q: QuestionnaireViewer, db: DB) -> list[AuditOut]:
    return [
        AuditOut(id=e.id, at=e.at, user=email, action=e.action, item_id=e.item_id, before=e.before, after=e.after)
        for e, email in audit.for_questionnaire(db, q.id)
    ]
