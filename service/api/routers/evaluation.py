"""Evaluation routes: leave-one-sheet-out holdout runs on a workspace's own sheets, as background jobs.

An admin starts a run (it drafts every question of the held-out sheets: minutes of CPU), which goes
to the job queue that drafting uses (crash-safe: a run whose process died is run again); anyone
who may read the workspace follows its progress and reads the result, the `kotae eval holdout
--json` shape. With `"calibrate": true` (and `"all": true`) the finished run also keeps the
workspace's confidence calibration, as `kotae eval holdout --all --calibrate` does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from service.accounts.models import User
from service.api.deps import DB, MAX_ID, CurrentUser, JobRunner, WorkspaceAdmin, WorkspaceViewer
from service.api.schemas import RequestBody, UtcDateTime
from service.evaluation import (
    HoldoutInputError,
    HoldoutRecord,
    RunInProgress,
    get_run,
    list_runs,
    shown_status,
    start_run,
)

router = APIRouter(prefix="/workspaces/{workspace}/holdout", tags=["evaluation"])
RunId = Annotated[int, Path(ge=1, le=MAX_ID)]
SourceName = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class HoldoutIn(RequestBody):
    """Either the sources to hold out, by name as `GET .../kb/sources` lists them, or `"all": true`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    sources: list[SourceName] | None = Field(default=None, max_length=1000)
    all_sources: StrictBool = Field(default=False, alias="all", description="Hold out every source in turn.")
    calibrate: StrictBool = Field(
        default=False,
        description="With all: fit this workspace's confidence calibration on the run and keep it (audited).",
    )


class CalibrationOut(BaseModel):
    samples: int = Field(description="Drafts the calibration was fitted on.")
    fitted_at: str = Field(description="The date it was fitted (ISO).")
    fitted_by: str
    in_use: bool = Field(description="Whether drafting uses it: it rests on at least min_samples drafts.")
    min_samples: int


class HoldoutRunOut(BaseModel):
    id: int
    status: str = Field(
        description="queued, running, done, failed, or stalled (no progress for 15 minutes and no process runs it)."
    )
    sources: list[str]
    all: bool
    done: int = Field(description="Questions drafted so far.")
    total: int = Field(description="Questions to draft, over every held-out source.")
    current: str = Field(description="The source being held out now.")
    started_by: str | None
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    error: str
    attempts: int = Field(description="Times a process took the run (again after one died).")
    calibrate: bool = Field(description="Whether the run keeps the workspace's calibration when done.")
    calibration: CalibrationOut | None = Field(description="The calibration the finished run stored, if asked to.")
    overall: dict[str, Any] | None = Field(description="The overall summary once done.")
    result: dict[str, Any] | None = Field(
        default=None, description='Once done (on GET of one run): {"sources": [...], "overall": {...}}.'
    )


def run_out(db: DB, record: HoldoutRecord, with_result: bool) -> HoldoutRunOut:
    starter = db.get(User, record.started_by) if record.started_by else None
    stored = dict(record.result or {})
    calibration = stored.pop("calibration", None)  # said beside the result, which keeps the --json shape
    return HoldoutRunOut(
        id=record.id,
        status=shown_status(record),
        sources=record.sources,
        all=record.all_sources,
        done=record.done,
        total=record.total,
        current=record.current,
        started_by=starter.email if starter else None,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        error=record.error,
        attempts=record.attempts,
        calibrate=record.calibrate,
        calibration=calibration,
        overall=stored["overall"] if stored else None,
        result=stored if with_result and stored else None,
    )


@router.post("", response_model=HoldoutRunOut, status_code=202)
def start_holdout(ws: WorkspaceAdmin, body: HoldoutIn, jobs: JobRunner, user: CurrentUser, db: DB) -> HoldoutRunOut:
    """Start a holdout eval in the background; poll `GET .../holdout/{run_id}` for progress and the result.

    422 names a source that is not in the workspace, or asks to calibrate without holding out every
    source; 409 while another run of the workspace is going.
    """
    try:
        record = start_run(db, ws, user, body.sources, body.all_sources, body.calibrate)
    except HoldoutInputError as exc:
        raise HTTPException(422, str(exc)) from None
    except RunInProgress as exc:
        raise HTTPException(409, str(exc)) from None
    db.commit()
    jobs.holdout(record.id)  # the response says the run as stored (queued); GET follows it
    return run_out(db, record, with_result=False)


@router.get("", response_model=list[HoldoutRunOut])
def list_holdout_runs(ws: WorkspaceViewer, db: DB) -> list[HoldoutRunOut]:
    """The workspace's latest runs, newest first, without their per-question results."""
    return [run_out(db, r, with_result=False) for r in list_runs(db, ws)]


@router.get("/{run_id}", response_model=HoldoutRunOut)
def get_holdout_run(ws: WorkspaceViewer, run_id: RunId, db: DB) -> HoldoutRunOut:
    record = get_run(db, ws.id, run_id)
    if record is None:
        raise HTTPException(404, f"no holdout run {run_id} in '{ws.name}'")
    return run_out(db, record, with_result=True)
