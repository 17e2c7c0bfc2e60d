"""Background work of the embedded default: drafting and vector syncs in in-process threads.

Progress and results live in the database, so a page reload (or a restart) sees them.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from service.db import session_scope
from service.jobs.drafting import run_drafting
from service.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)


class LocalJobs:
    def __init__(self, kb: KnowledgeBase, workers: int = 2, sync_delay: float = 1.0) -> None:
        self.sync_delay = sync_delay
        self.kb = kb
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kotae-job")
        self._sync_pending: set[str] = set()
        self._lock = threading.Lock()
        self.futures: list[Future[None]] = []

    def draft(self, questionnaire_id: int) -> Future[None]:
        future = self._pool.submit(self._guard, run_drafting, self.kb, questionnaire_id)
        self._track(future)
        return future

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
        self._pool.shutdown(wait=True, cancel_futures=False)
