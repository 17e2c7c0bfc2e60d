"""Background work of the embedded default: drafting, vector syncs and holdout runs in in-process threads.

Progress and results live in the database, so a page reload (or a restart) sees them. A job holds
its questionnaire's (or holdout run's) lease from the moment it is accepted (queued in the pool)
until it ends, renewed by the process's heartbeat; a recovery sweep (on start, then every half
lease) re-queues the jobs of a runner that died, so a server killed mid-drafting finishes the
questionnaire after a restart, and a holdout run is run again.

Holdout runs have a pool of one thread of their own: a run drafts every question of every
held-out sheet (minutes of CPU), so at most one runs per process, beside the drafting pool, never in it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from service.db import session_scope
from service.jobs.drafting import run_drafting
from service.jobs.holdout import accept, release, run_holdout_job
from service.jobs.lease import Heartbeat, claim_questionnaire, owner_id, release_questionnaire
from service.jobs.recovery import Recovery
from service.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


class LocalJobs:
    def __init__(self, kb: KnowledgeBase, workers: int = 2, sync_delay: float = 1.0, recover: bool = True) -> None:
        self.sync_delay = sync_delay
        self.kb = kb
        self.owner = owner_id()
        self._url = kb.settings.resolved_database_url
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kotae-job")
        self._holdout_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kotae-holdout")
        self._stopping = threading.Event()  # set on shutdown: a holdout run stops after its current question
        self._sync_pending: set[str] = set()
        self._lock = threading.Lock()
        self.futures: list[Future[None]] = []
        self._heartbeat = Heartbeat.ensure(self._url, self.owner, kb.settings.job_lease_seconds)
        self.recovery = Recovery(kb, self.draft, self.holdout, resync=self.sync)
        if recover:
            self.recovery.start()

    def draft(self, questionnaire_id: int) -> Future[None] | None:
        """Accept the drafting job: its lease is taken now, so no sweep takes it while it waits in
        the pool. None when another live runner holds it (or it is finished)."""
        seconds = self.kb.settings.job_lease_seconds
        self._heartbeat.hold()  # renewed from the claim until the job ends, also while it waits in the pool
        try:
            if not claim_questionnaire(self._url, questionnaire_id, self.owner, seconds, renew=False):
                self._heartbeat.let_go()
                return None
            future = self._pool.submit(self._guard, self._run_drafting, questionnaire_id)
        except BaseException:
            self._heartbeat.let_go()
            raise
        self._track(future)
        return future

    def _run_drafting(self, questionnaire_id: int) -> None:
        try:
            run_drafting(self.kb, questionnaire_id, self.owner)
        finally:
            # Also when the job never started its work (the claim above holds the lease until here).
            release_questionnaire(self._url, questionnaire_id, self.owner)
            self._heartbeat.let_go()

    def holdout(self, run_id: int) -> Future[None] | None:
        """Accept a stored holdout run (its lease is taken now, renewed while it waits its turn);
        None when another live runner holds it (or it has ended)."""
        self._heartbeat.hold()
        try:
            if not accept(self._url, run_id, self.owner, self.kb.settings.job_lease_seconds):
                self._heartbeat.let_go()
                return None
            future = self._holdout_pool.submit(self._guard, self._run_holdout, run_id)
        except BaseException:
            self._heartbeat.let_go()
            raise
        future.add_done_callback(lambda done: self._not_run(run_id) if done.cancelled() else None)
        self._track(future)
        return future

    def _run_holdout(self, run_id: int) -> None:
        try:
            run_holdout_job(self.kb, run_id, self.owner, self._heartbeat, stop=self._stopping)
        finally:
            self._heartbeat.let_go()

    def _not_run(self, run_id: int) -> None:
        """A run still waiting at shutdown: given back at once, for the next runner's sweep."""
        self._heartbeat.let_go()
        release(self._url, run_id, self.owner)

    def sync(self, workspace: str) -> None:
        """Bring the workspace's vectors up to date soon; requests made meanwhile share one sync."""
        with self._lock:
            if workspace in self._sync_pending:
                return
            self._sync_pending.add(workspace)
        self._track(self._pool.submit(self._guard, self._sync, workspace))

    def _track(self, future: Future[None]) -> None:
        # Only unfinished work is kept: a long-running server must not hold every job it ever ran.
        self.futures = [f for f in self.futures if not f.done()] + [future]

    def _sync(self, workspace: str) -> None:
        # Approvals arriving close together share one sync (one batched embedding call).
        time.sleep(self.sync_delay)
        with self._lock:
            self._sync_pending.discard(workspace)
        with session_scope(self.kb.settings.resolved_database_url) as session:
            self.kb.sync(session, workspace)

    @staticmethod
    def _guard(fn, *args) -> None:  # noqa: ANN001
        try:
            fn(*args)
        except Exception:
            log.exception("background job %s failed", getattr(fn, "__name__", fn))
            raise

    def wait(self, timeout: float | None = None) -> None:
        for future in list(self.futures):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self.recovery.stop()
        # A holdout takes minutes: the one running stops after its current question, those waiting are
        # not started; each is left open for the next runner (a restarted server's recovery sweep).
        self._stopping.set()
        self._holdout_pool.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=False)
