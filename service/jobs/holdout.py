"""Holdout eval runs as jobs of the queue that drafting uses, under a lease like drafting's.

A runner accepts a run by claiming its lease (`accept`); the runner that executes it claims it for
itself and counts an attempt (`begin`), renews the lease with its process's heartbeat while it works,
and gives it back at the end. A run whose process died keeps a lease no one renews (or one of a
process that is gone): the recovery sweep (`orphaned_runs`) hands it to a runner again, which runs
it from the start. At `job_max_attempts` attempts the run ends failed with the reason instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import or_, select, update

from service.db import session_scope
from service.evaluation import HoldoutRecord, execute_run, fail_run
from service.jobs.lease import DISPATCHED, OPEN_RUN, Heartbeat, expires, free
from service.knowledge_base import KnowledgeBase, Workspace
from service.knowledge_base.models import utcnow

log = logging.getLogger(__name__)


def accept(url: str, run_id: int, owner: str, seconds: float) -> bool:
    """Take the run for `owner` (this process, or DISPATCHED when handed to the queue); False when
    another live runner holds it (or it has ended)."""
    now = utcnow()
    with session_scope(url) as session:
        return bool(
            session.execute(
                update(HoldoutRecord)
                .where(HoldoutRecord.id == run_id, HoldoutRecord.status.in_(OPEN_RUN), free(HoldoutRecord, now))
                .values(lease_owner=owner, lease_expires_at=expires(seconds, now))
                .execution_options(synchronize_session=False)
            ).rowcount
        )


def begin(url: str, run_id: int, owner: str, seconds: float, max_attempts: int) -> str | None:
    """Claim the run to execute it now and count the attempt; returns its workspace, or None when
    another live runner holds it, it has ended, or it is out of attempts (then it ends failed)."""
    now = utcnow()
    takeable = or_(free(HoldoutRecord, now), HoldoutRecord.lease_owner.in_((owner, DISPATCHED)))
    with session_scope(url) as session:
        record = session.scalar(
            select(HoldoutRecord).where(HoldoutRecord.id == run_id, HoldoutRecord.status.in_(OPEN_RUN), takeable)
        )
        if record is None:
            return None
        workspace = session.get(Workspace, record.workspace_id).name
        attempts = record.attempts
        claimed = (
            attempts < max_attempts
            and session.execute(
                update(HoldoutRecord)  # counted once: of two runners at once, one moves the count
                .where(
                    HoldoutRecord.id == run_id, HoldoutRecord.attempts == attempts, HoldoutRecord.status.in_(OPEN_RUN)
                )
                .where(takeable)
                .values(lease_owner=owner, lease_expires_at=expires(seconds, now), attempts=attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
        )
    if attempts >= max_attempts:
        plural = "s" if max_attempts != 1 else ""
        reason = f"gave up after {max_attempts} attempt{plural}: the process running it stopped each time"
        if fail_run(url, run_id, reason):
            log.error("holdout run %s: %s", run_id, reason)
        release(url, run_id, owner)
        return None
    if not claimed:
        return None  # another runner counted its attempt first: it holds the run
    return workspace


def release(url: str, run_id: int, owner: str) -> None:
    """Give the run back (ended, or given up); only the holder's own lease is cleared."""
    with session_scope(url) as session:
        session.execute(
            update(HoldoutRecord)
            .where(HoldoutRecord.id == run_id, HoldoutRecord.lease_owner == owner)
            .values(lease_owner="", lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def run_holdout_job(
    kb: KnowledgeBase,
    run_id: int,
    owner: str,
    heartbeat: Heartbeat,
    prepare: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Execute one run as `owner`, its lease renewed by the heartbeat until the end; `prepare(workspace)`
    first (a queue worker brings its copy of the workspace's vectors up to date). Once `stop` is set
    the run is given back unfinished, for the recovery sweep to hand on (`execute_run`)."""
    url = kb.settings.resolved_database_url
    with heartbeat.holding():
        workspace = begin(url, run_id, owner, kb.settings.job_lease_seconds, kb.settings.job_max_attempts)
        if workspace is None:
            return
        try:
            if prepare is not None:
                prepare(workspace)
            execute_run(kb, run_id, stop)
        finally:
            release(url, run_id, owner)


def orphaned_runs(kb: KnowledgeBase) -> list[int]:
    """Unfinished holdout runs no live runner holds (their process died, or they were stored and never
    handed to a runner), oldest first. The caller has released the leases of dead processes first."""
    url = kb.settings.resolved_database_url
    now = utcnow()
    with session_scope(url) as session:
        query = select(HoldoutRecord.id).where(HoldoutRecord.status.in_(OPEN_RUN), free(HoldoutRecord, now))
        return list(session.scalars(query.order_by(HoldoutRecord.id)))
