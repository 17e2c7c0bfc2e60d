"""Answer-library routes: clusters, canonical answers, conflicts, due reviews, import and export.

Reading the library needs the viewer role; deciding (promote, write, retire, review, import)
the reviewer role. Every decision is audited by the library itself; the route commits.
A library action that cannot be done as asked (unknown entry, bad row) is a 422 naming it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Response, UploadFile
from pydantic import Field, StrictBool
from starlette.concurrency import run_in_threadpool

from service.api.deps import DB, KB, MAX_ID, CurrentUser, ItemReviewer, JobRunner, WorkspaceReviewer, WorkspaceViewer
from service.api.schemas import RequestBody
from service.api.uploads import read_upload, upload_name
from service.knowledge_base import Entry
from service.library import (
    CONFLICTING,
    LibraryError,
    build_clusters,
    canonical_answers,
    canonical_json,
    cluster_json,
    due,
    promote,
    promote_item,
    retire,
    set_review,
    superseded_by,
    write_answer,
)
from service.library.canonical import add_months
from service.library.transfer import apply_import, export_rows, plan_import, to_csv, to_xlsx

router = APIRouter(prefix="/workspaces/{workspace}/library", tags=["library"])
CanonicalId = Annotated[int, Path(ge=1, le=MAX_ID)]


class PromoteIn(RequestBody):
    entry_id: str = Field(min_length=1, max_length=32)
    owner: str | None = Field(default=None, max_length=320)
    review_by: date | None = None
    note: str = Field(default="", max_length=2000)
    supersede: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=1000, description="Supersede exactly these entries (default: the rest of the cluster)."
    )


class WrittenIn(RequestBody):
    anchor_entry_id: str = Field(min_length=1, max_length=32, description="A member of the cluster it answers.")
    answer: str = Field(default="", max_length=20_000)
    choice: str = Field(default="", max_length=100)
    product: str | None = Field(default=None, max_length=200)
    owner: str | None = Field(default=None, max_length=320)
    review_by: date | None = None


class ReviewIn(RequestBody):
    owner: str | None = Field(default=None, max_length=320)
    review_by: date | None = None
    reviewed: StrictBool = Field(default=False, description="Reviewed today: review-by moves library_review_months on.")


def _out(db: DB, canonical: Any) -> dict[str, Any]:
    return canonical_json(canonical, db.get(Entry, canonical.entry_id), superseded_by(db, canonical))


@router.get("/clusters")
def get_clusters(
    ws: WorkspaceViewer,
    kb: KB,
    db: DB,
    state: Annotated[Literal["consistent", "conflicting", "one-off"] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Entries grouped into answer clusters, each with its state and disagreements."""
    return [cluster_json(c) for c in build_clusters(db, kb, ws) if state is None or c.state == state]


@router.get("/conflicts")
def get_conflicts(ws: WorkspaceViewer, kb: KB, db: DB) -> list[dict[str, Any]]:
    """Conflicting clusters, with both texts of each disagreement."""
    return [cluster_json(c) for c in build_clusters(db, kb, ws) if c.state == CONFLICTING]


@router.get("/canonical")
def get_canonical(ws: WorkspaceViewer, db: DB) -> list[dict[str, Any]]:
    return [_out(db, c) for c in canonical_answers(db, ws)]


@router.get("/due")
def get_due(ws: WorkspaceViewer, db: DB, on: date | None = None) -> list[dict[str, Any]]:
    """Canonical answers whose review-by date has come (as of `on`, default today)."""
    return [_out(db, c) for c in due(db, ws, on)]


@router.post("/canonical", status_code=201)
def post_canonical(ws: WorkspaceReviewer, body: PromoteIn, kb: KB, user: CurrentUser, db: DB) -> dict[str, Any]:
    """Promote an entry to the canonical answer of its cluster (for its product)."""
    try:
        canonical = promote(
            db,
            kb,
            ws,
            body.entry_id,
            user,
            owner=body.owner,
            review_by=body.review_by,
            note=body.note,
            supersede=body.supersede,
        )
    except LibraryError as exc:
        raise HTTPException(422, str(exc)) from None
    out = _out(db, canonical)
    db.commit()
    return out


@router.post("/canonical/written", status_code=201)
def post_written(
    ws: WorkspaceReviewer, body: WrittenIn, kb: KB, jobs: JobRunner, user: CurrentUser, db: DB
) -> dict[str, Any]:
    """Write the canonical answer of a cluster; it is stored as an entry and indexed in the background."""
    try:
        canonical = write_answer(
            db,
            kb,
            ws,
            body.anchor_entry_id,
            body.answer,
            user,
            choice=body.choice,
            product=body.product,
            owner=body.owner,
            review_by=body.review_by,
        )
    except LibraryError as exc:
        raise HTTPException(422, str(exc)) from None
    out = _out(db, canonical)
    db.commit()
    jobs.sync(ws.name)
    return out


@router.post("/items/{item_id}", status_code=201)
def post_item_canonical(
    ws: WorkspaceReviewer, item: ItemReviewer, kb: KB, jobs: JobRunner, user: CurrentUser, db: DB
) -> dict[str, Any]:
    """An approved questionnaire answer becomes canonical in one action."""
    if item.questionnaire.workspace_id != ws.id:
        raise HTTPException(404, f"no item {item.id} in '{ws.name}'")
    try:
        canonical = promote_item(db, kb, item, user)
    except LibraryError as exc:
        raise HTTPException(422, str(exc)) from None
    out = _out(db, canonical)
    db.commit()
    jobs.sync(ws.name)
    return out


@router.patch("/canonical/{canonical_id}")
def patch_canonical(
    ws: WorkspaceReviewer, canonical_id: CanonicalId, body: ReviewIn, kb: KB, user: CurrentUser, db: DB
) -> dict[str, Any]:
    """Change the owner or the review-by date (a review that found the answer still true)."""
    review_by = body.review_by
    if body.reviewed and review_by is None:
        review_by = add_months(datetime.now(UTC).date(), kb.settings.library_review_months)
    try:
        canonical = set_review(db, ws, canonical_id, user, owner=body.owner, review_by=review_by)
    except LibraryError as exc:
        raise HTTPException(404, str(exc)) from None
    out = _out(db, canonical)
    db.commit()
    return out


@router.delete("/canonical/{canonical_id}", status_code=204)
def delete_canonical(ws: WorkspaceReviewer, canonical_id: CanonicalId, user: CurrentUser, db: DB) -> Response:
    """Withdraw a canonical answer: the rows it superseded speak again."""
    try:
        retire(db, ws, canonical_id, user)
    except LibraryError as exc:
        raise HTTPException(404, str(exc)) from None
    db.commit()
    return Response(status_code=204)


@router.get("/export")
def get_export(ws: WorkspaceViewer, db: DB, format: Literal["csv", "xlsx"] = "xlsx") -> Response:  # noqa: A002
    rows = export_rows(db, ws)
    if format == "csv":
        data, media = to_csv(rows), "text/csv; charset=utf-8"
    else:
        data, media = to_xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = f'attachment; filename="library-{ws.name}.{format}"'
    return Response(data, media_type=media, headers={"Content-Disposition": disposition})


@router.post("/import")
async def post_import(
    ws: WorkspaceReviewer,
    kb: KB,
    jobs: JobRunner,
    user: CurrentUser,
    db: DB,
    file: Annotated[UploadFile, File(description="An exported library file (.xlsx or .csv), edited.")],
    dry_run: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Apply an edited library file, or with `dry_run` only show the diff. One bad row: 422, nothing changed."""
    name = upload_name(file)
    name, data = await read_upload(file, kb.limits.max_file_bytes)

    def run() -> tuple[list[Any], bool]:
        plan = plan_import(db, ws, name, data)
        return plan, (False if dry_run else apply_import(db, kb, ws, plan, user))

    try:
        plan, wrote = await run_in_threadpool(run)
    except LibraryError as exc:
        raise HTTPException(422, str(exc)) from None
    if not dry_run:
        db.commit()
        if wrote:
            jobs.sync(ws.name)
    rows = [
        {"row": c.row, "action": c.action, "canonical_id": c.canonical_id, "entry_id": c.entry_id, "changes": c.changes}
        for c in plan
    ]
    return {"dry_run": dry_run, "rows": rows}
