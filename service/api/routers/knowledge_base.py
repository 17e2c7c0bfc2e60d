"""The knowledge base over HTTP: ingest files, list and search entries, list and remove sources."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, Response, UploadFile
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service import audit
from service.accounts import User
from service.api.deps import DB, KB, CurrentUser, JobRunner, WorkspaceAdmin, WorkspaceViewer
from service.api.presenters import entry_out
from service.api.schemas import EntryOut, IngestResult, SourceOut
from service.api.uploads import ProductForm, read_upload, upload_name
from service.ingest import IngestError
from service.knowledge_base import KnowledgeBase, Workspace, delete_source, list_entries, list_sources

log = logging.getLogger(__name__)

router = APIRouter(prefix="/workspaces/{workspace}/kb", tags=["knowledge base"])


def _store_file(
    db: Session, kb: KnowledgeBase, ws: Workspace, user: User, name: str, data: bytes, product: str | None
) -> IngestResult:
    """Parse, store and audit one file, and commit it: all of the file, or (on any error) none of it.

    Run in a worker thread: parsing is CPU work, and a write waiting on SQLite's lock must not block
    the event loop. Parsing touches no table, so the write transaction lasts only while the entries
    are written.
    """
    try:
        summary = kb.ingest_bytes(db, ws.name, name, data, product)
        audit.record(db, ws.id, "kb.ingest", user, after={"file": name, "entries": summary.entries})
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return IngestResult(
        file=name, entries=summary.entries, skipped=len(summary.skipped), stored=True, status=summary.status
    )


def _failure(name: str, exc: Exception, counts: Counter[str]) -> str:
    """A file's error in words. Expected refusals say why; anything else is logged with its traceback and
    counted, and the file is reported failed (the others in the batch stand on their own)."""
    if isinstance(exc, IngestError):
        return str(exc)
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    if isinstance(exc, DataError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid value"
        counts["DataError"] += 1
        log.warning("%s: the database refused a value: %s", name, reason)
        return f"{name}: a value in this file was refused by the database ({reason})"
    counts[type(exc).__name__] += 1
    log.exception("%s: storing the uploaded file failed", name)
    return f"{name}: the file could not be stored ({type(exc).__name__}: {exc})"


@router.post("/files", response_model=list[IngestResult])
async def ingest_files(
    request: Request,
    ws: WorkspaceAdmin,
    kb: KB,
    jobs: JobRunner,
    user: CurrentUser,
    db: DB,
    files: Annotated[list[UploadFile], File(description="Past answered sheets and policies.")],
    product: ProductForm = None,
) -> list[IngestResult]:
    """Ingest files into the knowledge base, each on its own: a file is stored whole or not at all, and
    its result says which (`stored`, `status`, `error`). A bad file never undoes or blocks the others."""
    results = []
    for upload in files:
        name = upload_name(upload)
        try:
            name, data = await read_upload(upload, kb.limits.max_file_bytes)
            results.append(await run_in_threadpool(_store_file, db, kb, ws, user, name, data, product))
        except Exception as exc:  # every failure becomes this file's error, whatever raised it
            results.append(IngestResult(file=name, error=_failure(name, exc, request.app.state.server_errors)))
    if any(r.stored and r.status != "unchanged" for r in results):
        jobs.sync(ws.name)
    return results


@router.get("/entries", response_model=list[EntryOut])
def get_entries(
    ws: WorkspaceViewer,
    kb: KB,
    db: DB,
    q: Annotated[str | None, Query(description="Search text (hybrid retrieval).")] = None,
    product: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[EntryOut]:
    if q:
        return [entry_out(h.entry, h.score) for h in kb.search(db, ws.name, q, k=limit, product=product)]
    return [entry_out(e) for e in list_entries(db, ws, limit, offset)]


@router.get("/sources", response_model=list[SourceOut])
def get_sources(ws: WorkspaceViewer, db: DB) -> list[SourceOut]:
    return [
        SourceOut(name=s.name, kind=s.kind, entries=n, sheet_date=s.sheet_date, ingested_at=s.ingested_at)
        for s, n in list_sources(db, ws)
    ]


@router.delete("/sources/{name}", status_code=204)
def remove_source(ws: WorkspaceAdmin, name: str, jobs: JobRunner, user: CurrentUser, db: DB) -> Response:
    try:
        removed = delete_source(db, ws, name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    audit.record(db, ws.id, "kb.delete_source", user, before={"source": name, "entries": removed})
    db.commit()
    jobs.sync(ws.name)
    return Response(status_code=204)
