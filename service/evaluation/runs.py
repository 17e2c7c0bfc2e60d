"""Holdout evals as background runs: started by a workspace admin, progress and result in the database.

`start_run` (the request's transaction: validate, store, audit) and `execute_run` (the job: owns
its own short transactions) are the two halves; `submit` runs the job on a thread of this process.

Why a thread of our own, not `service.jobs`: its `Jobs` protocol has no generic submit (only
drafting and vector syncs), so runs go to a daemon thread here, one at a time per process (a
holdout drafts every question of every held-out sheet: two at once would starve the reviewers'
drafting on a small machine). A run whose process died stops touching its heartbeat and shows as
stalled; a new run in that workspace then marks it failed.
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
from service.evaluation.holdout import run_holdout
from service.evaluation.judge import make_judge
from service.evaluation.models import DONE, FAILED, QUEUED, RUNNING, HoldoutRecord
from service.knowledge_base import KnowledgeBase, Workspace, list_sources
from service.knowledge_base.models import utcnow

log = logging.getLogger(__name__)

# No heartbeat for this long: the process running it is gone (a question, judged, takes minutes at most).
STALL_AFTER = timedelta(minutes=15)
LIBRARY_PREFIX = "review #"  # approved answers stored as sources: not a sheet anyone sent, never held out
_slots = threading.Semaphore(1)


class HoldoutInputError(ValueError):
    """The request names no source, an unknown one, or both sources and all: a 422 naming it."""


class RunInProgress(RuntimeError):
    """The workspace already has a holdout run queued or running: a 409."""


def stalled(record: HoldoutRecord) -> bool:
    return record.status in (QUEUED, RUNNING) and utcnow() - aware(record.updated_at) > STALL_AFTER


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
    session: Session, workspace: Workspace, user: User | None, sources: list[str] | None, all_sources: bool
) -> HoldoutRecord:
    """Store a queued run and audit it, in the caller's transaction; the caller commits, then `submit`s."""
    if all_sources == bool(sources):
        raise HoldoutInputError('send either {"sources": [names]} or {"all": true}')
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
        select(HoldoutRecord).where(
            HoldoutRecord.workspace_id == workspace.id, HoldoutRecord.status.in_((QUEUED, RUNNING))
        )
    ).all()
    for run in active:
        if not stalled(run):
            raise RunInProgress(f"holdout run {run.id} is still {run.status} in '{workspace.name}'")
        _finish(session, run.id, FAILED, error="stalled: no progress for 15 minutes (was the server restarted?)")
        audit.record(session, workspace.id, "holdout.failed", None, after={"run": run.id, "error": "stalled"})
    record = HoldoutRecord(
        workspace_id=workspace.id,
        status=QUEUED,
        sources=names,
        all_sources=all_sources,
        total=sum(known[n] for n in names),
        started_by=user.id if user else None,
    )
    session.add(record)
    session.flush()
    audit.record(
        session, workspace.id, "holdout.start", user, after={"run": record.id, "sources": names, "total": record.total}
    )
    return record


def _finish(session: Session, run_id: int, status: str, **values: Any) -> int:
    now = utcnow()
    return session.execute(
        update(HoldoutRecord)
        .where(HoldoutRecord.id == run_id, HoldoutRecord.status.in_((QUEUED, RUNNING)))
        .values(status=status, finished_at=now, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    ).rowcount


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


def execute_run(kb: KnowledgeBase, run_id: int) -> None:
    """The job: hold out the run's sources in turn, store the result (or the failure), audit the end."""
    url = kb.settings.resolved_database_url
    while not _slots.acquire(timeout=60):
        _touch(url, run_id)  # still waiting behind another run, and alive
    try:
        _execute(kb, url, run_id)
    finally:
        _slots.release()


def _execute(kb: KnowledgeBase, url: str, run_id: int) -> None:
    with session_scope(url) as session:
        now = utcnow()
        started = session.execute(
            update(HoldoutRecord)
            .where(HoldoutRecord.id == run_id, HoldoutRecord.status == QUEUED)
            .values(status=RUNNING, started_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        record = session.get(HoldoutRecord, run_id)
        if not started or record is None:
            return  # gone, or taken by another thread
        workspace_id, names = record.workspace_id, list(record.sources)
        workspace = session.get(Workspace, workspace_id).name
    try:
        judge = make_judge(kb.settings)
        with session_scope(url) as session:  # read-only: the holdout changes nothing in the workspace
            run = run_holdout(
                session, kb, workspace, names, progress=lambda name, _d, _t: _advance(url, run_id, name), judge=judge
            )
        # Through JSON once: what is stored is exactly what the API will return.
        data = json.loads(json.dumps(run.to_json(), ensure_ascii=False, default=str))
        if judge is not None:
            data["overall"]["judge_failures"] = judge.failures
    except Exception as exc:  # noqa: BLE001 - stored on the run, audited and logged: visible, not swallowed
        log.exception("holdout run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with session_scope(url) as session:
            if _finish(session, run_id, FAILED, error=error):
                audit.record(session, workspace_id, "holdout.failed", None, after={"run": run_id, "error": error})
        return
    overall = data["overall"]
    keys = ("questions", "drafted", "choice_agreement", "answer_agreement", "judge_agreement")
    with session_scope(url) as session:
        if _finish(session, run_id, DONE, result=data, current=""):
            audit.record(
                session, workspace_id, "holdout.finished", None, after={"run": run_id, **{k: overall[k] for k in keys}}
            )


def submit(kb: KnowledgeBase, run_id: int) -> threading.Thread:
    """Run the job on a daemon thread of this process (see the module's docstring for why)."""
    thread = threading.Thread(target=execute_run, args=(kb, run_id), name=f"kotae-holdout-{run_id}", daemon=True)
    thread.start()
    return thread
