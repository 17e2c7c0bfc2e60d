"""Drafting through a Redis queue with dramatiq, for the scaled setup.

Why dramatiq: its Redis broker keeps a message unacknowledged until the actor finishes, and
requeues the messages of a worker whose heartbeat stops, so a batch whose worker dies is taken
again by another worker. Our step (`draft_items`) applies each draft only to a still-pending item,
so a batch run twice still writes every question into the result exactly once.

What the broker cannot see (the API process dying between marking a questionnaire drafting and
sending its batches, a message out of retries, a batch whose lease outlived its worker) the API
process's recovery sweep (recovery.py) finds by the leases in the database, and sends again.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from functools import lru_cache
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select

from service.db import session_scope
from service.jobs.drafting import draft_items, finish_if_complete, start_drafting
from service.jobs.holdout import accept, run_holdout_job
from service.jobs.lease import DISPATCHED, Heartbeat, owner_id, worker_id
from service.jobs.recovery import Recovery
from service.knowledge_base import KnowledgeBase, Workspace
from service.settings import Settings, get_settings

QUEUE = "kotae-drafting"
HOLDOUT_TIME_LIMIT_MS = 24 * 3600 * 1000


@lru_cache(maxsize=4)
def _broker(url: str, namespace: str, heartbeat_ms: int, maintenance_chance: int) -> RedisBroker:
    return RedisBroker(
        url=url, namespace=namespace, heartbeat_timeout=heartbeat_ms, maintenance_chance=maintenance_chance
    )


_kb_lock = threading.Lock()
_kb: KnowledgeBase | None = None


def _worker_kb() -> KnowledgeBase:
    global _kb
    with _kb_lock:
        if _kb is None:
            _kb = KnowledgeBase(get_settings())
        return _kb


_synced_revision: dict[str, int] = {}


def _sync_if_changed(kb: KnowledgeBase, workspace: str) -> None:
    """Entries stored since this worker last looked are made searchable before drafting."""
    with session_scope(kb.settings.resolved_database_url) as session:
        revision = session.scalar(select(Workspace.revision).where(Workspace.name == workspace))
        if revision is not None and _synced_revision.get(workspace) != revision:
            kb.sync(session, workspace)
            _synced_revision[workspace] = revision


def _draft_batch(workspace: str, questionnaire_id: int, item_ids: list[int]) -> None:
    kb = _worker_kb()
    _sync_if_changed(kb, workspace)
    draft_items(kb, questionnaire_id, item_ids, worker_id())


def _sync(workspace: str) -> None:
    _sync_if_changed(_worker_kb(), workspace)


_stopping = threading.Event()  # set when the worker shuts down: a holdout run stops after its current question


def _holdout(run_id: int) -> None:
    """A holdout run in a worker: held under this worker's lease, renewed by its heartbeat; given back
    unfinished when the worker shuts down (the API process's recovery sweep sends it again)."""
    kb = _worker_kb()
    settings = kb.settings
    heartbeat = Heartbeat.ensure(settings.resolved_database_url, owner_id(), settings.job_lease_seconds)
    run_holdout_job(
        kb,
        run_id,
        owner_id(),
        heartbeat,
        prepare=lambda workspace: _sync_if_changed(kb, workspace),
        stop=_stopping,
    )


@lru_cache(maxsize=4)
def actors(settings_key: tuple[str, str, int, int]) -> dict[str, Any]:
    broker = _broker(*settings_key)
    dramatiq.set_broker(broker)
    return {
        "draft_batch": dramatiq.actor(
            _draft_batch, broker=broker, queue_name=QUEUE, actor_name="kotae.draft_batch", max_retries=5
        ),
        "sync": dramatiq.actor(_sync, broker=broker, queue_name=QUEUE, actor_name="kotae.sync", max_retries=5),
        # A holdout drafts every question of every held-out sheet: far beyond dramatiq's default
        # 10-minute time limit. Its attempts are bounded by the run's own count (service.jobs.holdout).
        "holdout": dramatiq.actor(
            _holdout,
            broker=broker,
            queue_name=QUEUE,
            actor_name="kotae.holdout",
            max_retries=5,
            time_limit=HOLDOUT_TIME_LIMIT_MS,
        ),
    }


def settings_key(settings: Settings) -> tuple[str, str, int, int]:
    assert settings.queue_url
    return (
        settings.queue_url,
        settings.queue_namespace,
        settings.queue_heartbeat_ms,
        settings.queue_maintenance_chance,
    )


class QueueJobs:
    """What the API process does in the scaled setup: split, enqueue, and let workers draft."""

    def __init__(self, kb: KnowledgeBase, recover: bool = True) -> None:
        self.kb = kb
        self.actors = actors(settings_key(kb.settings))
        self.recovery = Recovery(kb, self.draft, self.holdout, resync=self.sync)
        if recover:
            self.recovery.start()

    def draft(self, questionnaire_id: int) -> Future[None] | None:
        # The questionnaire's lease goes to the queue (no process renews it): workers refresh it as
        # they claim its items, and the recovery sweep sends what is left once it runs out.
        workspace, batches = start_drafting(self.kb, questionnaire_id, DISPATCHED)
        for batch in batches:
            self.actors["draft_batch"].send(workspace, questionnaire_id, batch)
        if workspace and not batches:
            finish_if_complete(self.kb, questionnaire_id)  # nothing left to send (an empty sheet)
        return None

    def holdout(self, run_id: int) -> Future[None] | None:
        # Like drafting: the run's lease goes to the queue until a worker claims it; the recovery
        # sweep sends it again if no worker has taken it once that lease runs out.
        if accept(self.kb.settings.resolved_database_url, run_id, DISPATCHED, self.kb.settings.job_lease_seconds):
            self.actors["holdout"].send(run_id)
        return None

    def sync(self, workspace: str) -> None:
        self.actors["sync"].send(workspace)

    def wait(self, timeout: float | None = None) -> None:
        broker = _broker(*settings_key(self.kb.settings))
        broker.join(QUEUE, timeout=int(timeout * 1000) if timeout else None)

    def shutdown(self) -> None:
        self.recovery.stop()


def run_worker(threads: int = 1) -> None:
    """`kotae worker`: serve the drafting queue until SIGINT/SIGTERM."""
    import signal

    from dramatiq import Worker

    # One worker process is one unit of parallelism (scale by adding workers): OpenMP threads of
    # several workers on the same cores would spin against each other.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    settings = get_settings()
    if not settings.queue_url:
        raise SystemExit("KOTAE_QUEUE_URL is not set: the embedded default drafts in the API process")
    key = settings_key(settings)
    actors(key)
    worker = Worker(_broker(*key), queues={QUEUE}, worker_threads=threads)
    _worker_kb()  # load the model before taking messages
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    print(f"kotae worker {worker_id()} serving {QUEUE} on {settings.queue_url}", flush=True)
    stop.wait()
    _stopping.set()
    worker.stop()
