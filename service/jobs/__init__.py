"""Background work: drafting questionnaires, keeping vectors in step, and holdout eval runs.

`get_jobs(kb)` picks the runner from settings (one place): in-process threads on the embedded
default, or a Redis queue (dramatiq) served by `kotae worker` processes when KOTAE_QUEUE_URL is set.
Both run the same idempotent core step, `service.jobs.drafting.draft_items`, under leases
(`lease.py`) that a recovery sweep (`recovery.py`, started by either runner) watches: the work of a
process that died is taken again, each question at most `job_max_attempts` times. Holdout runs
(`holdout.py`, the body is `service.evaluation.execute_run`) go the same way: leased, swept, each
run at most `job_max_attempts` times, then failed with the reason.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol

from service.knowledge_base import KnowledgeBase


class Jobs(Protocol):
    def draft(self, questionnaire_id: int) -> Future[None] | None: ...

    def holdout(self, run_id: int) -> Future[None] | None: ...

    def sync(self, workspace: str) -> None: ...

    def wait(self, timeout: float | None = None) -> None: ...

    def shutdown(self) -> None: ...


def get_jobs(kb: KnowledgeBase) -> Jobs:
    match kb.settings.queue_url:
        case None | "":
            from service.jobs.local import LocalJobs

            return LocalJobs(kb)
        case _:
            from service.jobs.queue import QueueJobs

            return QueueJobs(kb)
