"""Questionnaires: upload (drafting starts in the background), progress, items, bulk accept, export, audit."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Query, Response, UploadFile
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service import audit
from service.accounts import User, user_by_email
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
from service.api.presenters import audit_out, item_out, questionnaire_out
from service.api.schemas import AuditOut, BulkAcceptIn, BulkAcceptOut, ExportSummaryOut, ItemOut, QuestionnaireOut
from service.api.uploads import ProductForm, read_upload
from service.export import export_questionnaire
from service.knowledge_base import KnowledgeBase, Workspace
from service.questionnaires import Questionnaire, create_questionnaire, questionnaires_of
from service.review import desk

router = APIRouter(tags=["questionnaires"])


@router.post("/workspaces/{workspace}/questionnaires", response_model=QuestionnaireOut, status_code=202)
async def upload_questionnaire(
    ws: WorkspaceReviewer,
    kb: KB,
    jobs: JobRunner,
    user: CurrentUser,
    db: DB,
    file: Annotated[UploadFile, File(description="The customer's questionnaire: xlsx, csv, docx, md or txt.")],
    product: ProductForm = None,
) -> QuestionnaireOut:
    """Upload a questionnaire; drafting starts in the background (poll the questionnaire for progress).

    An unreadable file is a 422 naming the file, sheet and row.
    """
    name, data = await read_upload(file, kb.limits.max_file_bytes)
    # Parsing is CPU work, and a write may wait on SQLite's lock: both off the event loop.
    q = await run_in_threadpool(_store_questionnaire, db, kb, ws, user, name, data, product)
    jobs.draft(q.id)
    return questionnaire_out(db, q)


def _store_questionnaire(
    db: Session, kb: KnowledgeBase, ws: Workspace, user: User, name: str, data: bytes, product: str | None
) -> Questionnaire:
    """Parse and store the file (its values cleaned to fit: `create_questionnaire`), committed in one
    short transaction."""
    try:
        q = create_questionnaire(db, ws, name, data, user, product, kb.limits)
        db.commit()
    except DataError as exc:  # a last resort: create_questionnaire fits every value of the file
        db.rollback()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid value"
        raise HTTPException(422, f"{name}: a value in this file was refused by the database ({reason})") from exc
    return q


@router.get("/workspaces/{workspace}/questionnaires", response_model=list[QuestionnaireOut])
def list_questionnaires(ws: WorkspaceViewer, db: DB) -> list[QuestionnaireOut]:
    return [questionnaire_out(db, q) for q in questionnaires_of(db, ws)]


@router.get("/questionnaires/{questionnaire_id}", response_model=QuestionnaireOut)
def get_questionnaire(q: QuestionnaireViewer, db: DB) -> QuestionnaireOut:
    return questionnaire_out(db, q)


@router.get("/questionnaires/{questionnaire_id}/items", response_model=list[ItemOut])
def get_items(
    q: QuestionnaireViewer,
    user: CurrentUser,
    db: DB,
    status: Annotated[str | None, Query(description="An item status, or `open`: waiting for a person.")] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    assigned: Annotated[str | None, Query(description="`me`, or a member's email.")] = None,
    flag: Annotated[str | None, Query(description="Only drafts carrying this flag.")] = None,
    band: Annotated[Literal["high", "medium", "low", "none"] | None, Query(description="Confidence band.")] = None,
    section: Annotated[str | None, Query(description="The section heading as the items show it.")] = None,
    mentions: Annotated[Literal["me"] | None, Query(description="Items whose comments mention me.")] = None,
) -> list[ItemOut]:
    """The questionnaire's items in order, filtered by every filter given."""
    assignee = user if assigned == "me" else user_by_email(db, assigned) if assigned else None
    if assigned and assignee is None:
        return []  # nobody by that email: nothing is assigned to them (and no account's existence leaks)
    items = desk.filter_items(
        db,
        q,
        status=status,
        flag=flag,
        confidence_band=band,
        section=section,
        assignee_id=assignee.id if assignee else None,
        mentioning=user.id if mentions else None,
        min_confidence=min_confidence,
    )
    return [item_out(db, i) for i in items]


@router.post("/questionnaires/{questionnaire_id}/bulk-accept", response_model=BulkAcceptOut, tags=["review"])
def bulk_accept(
    q: QuestionnaireReviewer, body: BulkAcceptIn, jobs: JobRunner, kb: KB, user: CurrentUser, db: DB
) -> BulkAcceptOut:
    """Accept the unflagged drafts at or above the confidence (only the previewed ones, at the versions
    seen, when `items` is given), and reused answers whose approval still holds. Undo it for a while
    with the returned batch id."""
    expected = {i.id: i.version for i in body.items} if body.items is not None else None
    review_months = kb.settings.library_review_months
    batch, accepted = desk.bulk_accept(db, q, user, body.min_confidence, review_months, expected)
    db.commit()
    jobs.sync(db.get(Workspace, q.workspace_id).name)
    return BulkAcceptOut(
        accepted=len(accepted),
        batch_id=batch.id,
        item_ids=[i.id for i in accepted],
        undo_until=desk.undo_until(batch),
    )


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
    cite: Annotated[bool, Query(description="Name the cited past sheets in the file's notes column.")] = False,
) -> Response:
    """The answered questionnaire: the customer's own file filled in, or JSON, or CSV.

    Answers only by default (no review marks, no past sheets' names); X-Exported-Rows and
    X-Blank-Rows say how many questions got an answer and how many were left blank.
    """
    asked = {"format": format, "include": include, "cite": cite}
    try:
        exported = export_questionnaire(q, format, include_all=include == "all", cite=cite)
        headers = {
            "Content-Disposition": attachment(exported.filename),
            "X-Exported-Rows": str(exported.rows),
            "X-Blank-Rows": str(exported.blank),
        }
        response = Response(exported.content, media_type=exported.media_type, headers=headers)
    except Exception as exc:
        # Audited as what it was, in a transaction of its own, then answered as the error it is
        # (ExportError: 400; anything else: a logged 500).
        db.rollback()
        _audit_export(db, q, user, {**asked, "status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]})
        raise
    _audit_export(db, q, user, {**asked, "status": "done", "rows": exported.rows, "blank": exported.blank})
    return response


def _audit_export(db: Session, q: Questionnaire, user: User, after: dict[str, object]) -> None:
    audit.record(db, q.workspace_id, "questionnaire.export", user, questionnaire_id=q.id, after=after)
    db.commit()


@router.get("/questionnaires/{questionnaire_id}/export/summary", response_model=ExportSummaryOut)
def export_summary(q: QuestionnaireReviewer, db: DB) -> ExportSummaryOut:
    """What an approved-only export would hold: rows answered, rows left blank, items not approved."""
    s = desk.export_summary(db, q)
    return ExportSummaryOut(total=s.total, approved=s.approved, blank=s.blank, unapproved=s.unapproved, counts=s.counts)


@router.get("/questionnaires/{questionnaire_id}/audit", response_model=list[AuditOut])
def audit_log(q: QuestionnaireViewer, db: DB) -> list[AuditOut]:
    return [audit_out(e, email) for e, email in audit.for_questionnaire(db, q.id)]
