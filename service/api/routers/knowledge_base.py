"""The knowledge base over HTTP: ingest files, list and search entries, list and remove sources."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from service import audit
from service.api.deps import DB, KB, CurrentUser, JobRunner, WorkspaceAdmin, WorkspaceViewer
from service.api.presenters import entry_out
from service.api.schemas import EntryOut, IngestResult
from service.api.uploads import read_upload, upload_name
from service.ingest import IngestError
from service.knowledge_base import delete_source, list_entries, list_sources

router = APIRouter(prefix="/workspaces/{workspace}/kb", tags=["knowledge base"])


@router.post("/files", response_model=list[IngestResult])
async def ingest_files(
    ws: WorkspaceAdmin,
    kb: KB,
    jobs: JobRunner,
    user: CurrentUser,
    db: DB,
    files: Annotated[list[UploadFile], File(description="Past answered sheets and policies.")],
    product: Annotated[str | None, Form()] = None,
) -> list[IngestResult]:
    """Ingest files into the knowledge base; each file on its own, a bad one reported, not fatal."""
    results = []
    for upload in files:
        try:
            name, data = await read_upload(upload, kb.limits.max_file_bytes)
            # Parsing is CPU work: off the event loop, so other requests keep being answered.
            summary = await run_in_threadpool(kb.ingest_bytes, db, ws.name, name, data, product)
            audit.record(db, ws.id, "kb.ingest", user, after={"file": name, "entries": summary.entries})
            db.commit()
            results.append(IngestResult(file=name, entries=summary.entries, skipped=len(summary.skipped)))
        except (IngestError, HTTPException) as exc:
            db.rollback()
            message = str(exc) if isinstance(exc, IngestError) else exc.detail
            results.append(IngestResult(file=upload_name(upload), error=message))
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


@router.get("/sources")
def get_sources(ws: WorkspaceViewer, db: DB) -> list[dict[str, object]]:
    return [
        {"name": s.name, "kind": s.kind, "entries": n, "sheet_date": s.sheet_date, "ingested_at": s.ingested_at}
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
