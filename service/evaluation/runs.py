"""Holdout evals as background runs: started by a workspace admin, progress and result in the database.

`start_run` (the request's transaction: validate, store, audit) and `execute_run` (the job body: owns
its own short transactions) are the two halves. The job queue that drafting uses runs the body
(`Jobs.holdout` in service/jobs): it holds the run under a lease renewed by its heartbeat, and its
recovery sweep takes a run again whose process died (from the start: a holdout is read-only), at
most `job_max_attempts` times, then ends it failed with the reason.

With `calibrate` (every source held out), the run also fits and keeps the workspace's confidence
calibration on its results, in the transaction that marks it done, audited.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User, aware
from service.db import session_scope
from service.drafting.calibration_store import save_workspace_calibration
from service.evaluation.holdout import CalibrationError, HoldoutRun, fit_workspace_calibration, run_holdout
from service.evaluation.judge import make_judge
from service.evaluation.models import DONE, FAILED, OPEN_RUN, QUEUED, RUNNING, HoldoutRecord
from service.knowledge_base import KnowledgeBase, Workspace, list_sources
from service.knowledge_base.models import utcnow
from service.settings import Settings

log = logging.getLogger(__name__)

# No progress for this long and no live runner holding it: shown as stalled (no process takes it:
# the server is down, or no `kotae worker` serves the queue); a new run in the workspace replaces it.
STALL_AFTER = timedelta(minutes=15)
# The lease owner of a run handed to the Redis queue (service.jobs.lease.DISPATCHED): no process renews it.
QUEUE_OWNER = "queue"
LIBRARY_PREFIX = "review #"  # approved answers stored as sources: not a sheet anyone sent, never held out


class HoldoutInputError(ValueError):
    """The request names no source, an unknown one, both sources and all, or calibrate without all: a 422."""


class RunInProgress(RuntimeError):
    """The workspace already has a holdout run queued or running: a 409."""


class RunStopped(Exception):
    """Its runner is shutting down: the run is left open, for the recovery sweep to hand on."""


def stalled(record: HoldoutRecord) -> bool:
    now = utcnow()
    held = (
        record.lease_owner not in ("", QUEUE_OWNER)
        and record.lease_expires_at is not None
        and aware(record.lease_expires_at) > now
    )
    return record.status in OPEN_RUN and not held and now - aware(record.updated_at) > STALL_AFTER


def shown_status(record: HoldoutRecord) -> str:
    return "stalled" if stalled(record) else record.status


def list_runs(session: Session, workspace: Workspace, limit: int = 50) -> list[HoldoutRecord]:
    query = select(HoldoutRecord).where(HoldoutRecord.workspace_id == workspace.id)
    return list(session.scalars(query.order_by(HoldoutRecord.id.desc()).limit(limit)))


def get_run(session: Session, workspace_id: int, run_id: int) -> HoldoutRecord | None:
    record = session.get(HoldoutRecord, run_id)
    return record if record is not None and record.workspace_id == workspace_id else None


def holdable_sources(session: Session, workspace: Workspace) -> dict[str, int]:
    """Source name -> questions, for every source a holdout can hold out (with entries, not the library)."""
    return {s.name: n for s, n in list_sources(session, workspace) if n and not s.name.startswith(LIBRARY_PREFIX)}


def start_run(
    session: Session,
    workspace: Workspace,
    user: User | None,
    sources: list[str] | None,
    all_sources: bool,
    calibrate: bool = False,
) -> HoldoutRecord:
    """Store a queued run and audit it, in the caller's transaction; the caller commits, then hands
    it to the job queue (`Jobs.holdout`)."""
    if all_sources == bool(sources):
        raise HoldoutInputError('send either {"sources": [names]} or {"all": true}')
    if calibrate and not all_sources:
        raise HoldoutInputError('"calibrate" needs {"all": true}: a calibration rests on every sheet held out in turn')
    known = holdable_sources(session, workspace)
    if all_sources:
        names = sorted(known)
        if not names:
            raise HoldoutInputError(f"workspace '{workspace.name}' has no source to hold out")
    else:
        names = list(dict.fromkeys(sources or []))
        missing = [n for n in names if n not in known]
        if missing:
            raise HoldoutInputError(
                f"no source named '{missing[0]}' in workspace '{workspace.name}' (GET .../kb/sources lists them)"
            )
    active = session.scalars(
        select(HoldoutRecord).where(HoldoutRecord.workspace_id == workspace.id, HoldoutRecord.status.in_(OPEN_RUN))
    ).all()
    for run in active:
        if not stalled(run):
            raise RunInProgress(f"holdout run {run.id} is still {run.status} in '{workspace.name}'")
        error = "stalled: no progress for 15 minutes and no process running it (is the server or a worker up?)"
        finish_run(session, run.id, FAILED, error=error)
        audit.record(session, workspace.id, "holdout.failed", None, after={"run": run.id, "error": "stalled"})
    record = HoldoutRecord(
        workspace_id=workspace.id,
        status=QUEUED,
        sources=names,
        all_sources=all_sources,
        calibrate=calibrate,
        total=sum(known[n] for n in names),
        started_by=user.id if user else None,
    )
    session.add(record)
    session.flush()
    after = {"run": record.id, "sources": names, "total": record.total, "calibrate": calibrate}
    audit.record(session, workspace.id, "holdout.start", user, after=after)
    return record


def finish_run(session: Session, run_id: int, status: str, **values: Any) -> int:
    """End an unfinished run (done or failed), in the caller's transaction; 0 when it had ended already."""
    now = utcnow()
    return session.execute(
        update(HoldoutRecord)
        .where(HoldoutRecord.id == run_id, HoldoutRecord.status.in_(OPEN_RUN))
        .values(status=status, finished_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount


def fail_run(url: str, run_id: int, error: str) -> bool:
    """End the run failed with the reason, audited, in a transaction of its own; False when it had ended."""
    with session_scope(url) as session:
        if not finish_run(session, run_id, FAILED, error=error[:2000]):
            return False
        workspace_id = session.get(HoldoutRecord, run_id).workspace_id
        audit.record(session, workspace_id, "holdout.failed", None, after={"run": run_id, "error": error[:2000]})
    return True


def keep_calibration(
    session: Session, workspace: Workspace, run: HoldoutRun, settings: Settings, by: str, user: User | None = None
) -> dict[str, Any]:
    """Fit the workspace's confidence calibration on a leave-one-sheet-out run and keep it, audited,
    in the caller's transaction. Returns what was stored (samples, date, and whether drafting uses it)."""
    calibration = fit_workspace_calibration(run, fallback_abstain=settings.abstain_threshold)
    save_workspace_calibration(session, workspace, calibration, by=by)
    stored = {
        "samples": calibration.samples,
        "fitted_at": calibration.fitted_at,
        "fitted_by": by,
        # Below the minimum, drafting keeps Kotae's shipped calibration (calibration_store.calibration_for).
        "in_use": calibration.samples >= settings.calibration_min_samples,
        "min_samples": settings.calibration_min_samples,
    }
    audit.record(session, workspace.id, "calibration.stored", user, after=stored)
    return stored


def _touch(url: str, run_id: int, **values: Any) -> None:
    with session_scope(url) as session:
        session.execute(
            update(HoldoutRecord)
            .where(HoldoutRecord.id == run_id)
            .values(updated_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )


def _advance(url: str, run_id: int, source: str) -> None:
    """One more question drafted: one atomic UPDATE, its own short transaction."""
    _touch(url, run_id, done=HoldoutRecord.done + 1, current=source[:500])


def execute_run(kb: KnowledgeBase, run_id: int, stop: threading.Event | None = None) -> None:
    """The job body: hold out the run's sources in turn, store the result (or the failure), audit the end.

    The caller holds the run (its lease). A run taken again after its process died starts over: its
    progress goes back to 0 (nothing of the dead attempt is kept; a holdout writes nothing else).
    Once `stop` is set (the runner shuts down), the run stops after the question at hand and is left
    open: the next runner's recovery sweep takes it again, instead of a shutdown waiting minutes.
    """
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        now = utcnow()
        started = session.execute(
            update(HoldoutRecord)
            .where(HoldoutRecord.id == run_id, HoldoutRecord.status.in_(OPEN_RUN))
            .values(status=RUNNING, started_at=now, updated_at=now, done=0, current="")
            .execution_options(synchronize_session=False)
        ).rowcount
        record = session.get(HoldoutRecord, run_id)
        if not started or record is None:
            return  # gone, or finished meanwhile
        workspace_id, names, calibrate = record.workspace_id, list(record.sources), record.calibrate
        started_by = record.started_by
        workspace = session.get(Workspace, workspace_id).name

    def advance(source: str, _done: int, _total: int) -> None:
        if stop is not None and stop.is_set():
            raise RunStopped
        _advance(url, run_id, source)

    try:
        judge = make_judge(kb.settings)
        with session_scope(url) as session:  # read-only: the holdout changes nothing in the workspace
            run = run_holdout(session, kb, workspace, names, progress=advance, judge=judge)
        # Through JSON once: what is stored is exactly what the API will return.
        data = json.loads(json.dumps(run.to_json(), ensure_ascii=False, default=str))
        if judge is not None:
            data["overall"]["judge_failures"] = judge.failures
    except RunStopped:
        log.warning("holdout run %s stopped: its runner shuts down; the recovery sweep hands it on", run_id)
        return
    except Exception as exc:  # noqa: BLE001 - stored on the run, audited and logged: visible, not swallowed
        log.exception("holdout run %s failed", run_id)
        fail_run(url, run_id, f"{type(exc).__name__}: {exc}")
        return
    overall = data["overall"]
    keys = ("questions", "drafted", "choice_agreement", "answer_agreement", "judge_agreement")
    with session_scope(url) as session:  # the calibration is kept exactly when the run ends done
        if calibrate:  # audited as the admin who asked for it
            user = session.get(User, started_by) if started_by else None
            workspace_row = session.get(Workspace, workspace_id)
            by = f"holdout run #{run_id}"
            try:
                data["calibration"] = keep_calibration(session, workspace_row, run, kb.settings, by, user)
            except CalibrationError as exc:  # the run ends failed with why, not retried as if its process died
                session.rollback()
                log.warning("holdout run %s: %s", run_id, exc)
                fail_run(url, run_id, str(exc))
                return
        if finish_run(session, run_id, DONE, result=data, current=""):
            after = {"run": run_id, **{k: overall[k] for k in keys}}
            if calibrate:
                after["calibration_samples"] = data["calibration"]["samples"]
            audit.record(session, workspace_id, "holdout.finished", None, after=after)
        else:
            session.rollback()  # ended meanwhile (replaced as stalled): keep nothing of it
