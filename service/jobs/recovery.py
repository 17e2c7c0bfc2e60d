"""Finding jobs whose runner died (drafting, holdout runs), and handing them to a runner again.

On start and then every half lease, a sweep: releases the leases of processes of this machine that
are gone, then takes every `drafting` questionnaire whose own lease is free or ran out and none of
whose items is under a live lease (no runner is on it), and re-queues it when it has work left, or
closes it when it has none. Re-queueing twice is harmless: items are claimed once (lease.py).

A `queued` questionnaire was stored but never handed to a runner (a runner's claim makes it
`drafting` at once), so the sweep leaves it alone: whoever stored it decides when it is drafted.

Holdout runs (queued or running) under no live lease are handed to a runner again too: also one
stored by a process that died before handing it over (a run is always meant to run at once).

The first sweep also asks for a vector sync of every workspace: entries committed by a process that
died before its sync (an upload, an approval) would otherwise stay unsearchable by meaning until the
next change or `kotae kb check --repair`. A sync of a workspace in step embeds nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import exists, select

from service.db import session_scope
from service.jobs.drafting import finish_if_complete, to_draft
from service.jobs.holdout import orphaned_runs
from service.jobs.lease import free, release_dead_owners
from service.knowledge_base import KnowledgeBase, Workspace
from service.knowledge_base.models import utcnow
from service.questionnaires import Item, Questionnaire

log = logging.getLogger(__name__)


def orphaned(kb: KnowledgeBase) -> list[int]:
    """Unfinished questionnaires no live runner holds, oldest first; those with nothing left to
    draft are closed on the way (done, or failed when every item failed). The caller has released
    the leases of dead processes first (`release_dead_owners`)."""
    url = kb.settings.resolved_database_url
    now = utcnow()
    live_item = exists().where(Item.questionnaire_id == Questionnaire.id, Item.lease_owner != "", ~free(Item, now))
    with session_scope(url) as session:
        candidates = list(
            session.scalars(
                select(Questionnaire.id)
                .where(Questionnaire.status == "drafting", free(Questionnaire, now), ~live_item)
                .order_by(Questionnaire.id)
            )
        )
        with_work = set(
            session.scalars(
                select(Item.questionnaire_id)
                .where(Item.questionnaire_id.in_(candidates), to_draft(kb.settings, now))
                .distinct()
            )
        )
    for questionnaire_id in candidates:
        if questionnaire_id not in with_work:
            finish_if_complete(kb, questionnaire_id)
    return [q for q in candidates if q in with_work]


class Recovery:
    """The sweep in a daemon thread: at once, then every `interval` seconds (half a lease)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        requeue: Callable[[int], object],
        requeue_holdout: Callable[[int], object] | None = None,
        interval: float | None = None,
        resync: Callable[[str], object] | None = None,
    ) -> None:
        self.kb = kb
        self.requeue = requeue
        self.requeue_holdout = requeue_holdout
        self.resync = resync
        self.resynced: list[str] | None = None  # workspaces whose sync the first sweep asked for
        self.interval = interval if interval is not None else max(1.0, kb.settings.job_lease_seconds / 2)
        self.requeued = 0  # jobs handed to a runner again
        self.holdouts_requeued = 0
        self.failures = 0  # sweeps that raised (logged); the next sweep tries again
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kotae-job-recovery", daemon=True)

    def start(self) -> Recovery:
        self._thread.start()
        return self

    def sweep(self) -> list[int]:
        """One pass over both kinds of job; returns the questionnaires re-queued."""
        release_dead_owners(self.kb.settings.resolved_database_url)  # once, for both kinds
        found = orphaned(self.kb)
        for questionnaire_id in found:
            log.warning("questionnaire %s: its drafting job has no live runner; re-queued", questionnaire_id)
            self.requeue(questionnaire_id)
        self.requeued += len(found)
        self._requeue_holdouts()
        if self.resync is not None and self.resynced is None:
            self.resync_all()
        return found

    def resync_all(self) -> list[str]:
        """Ask for a vector sync of every workspace (see the module docstring)."""
        assert self.resync is not None
        with session_scope(self.kb.settings.resolved_database_url) as session:
            names = list(session.scalars(select(Workspace.name).order_by(Workspace.id)))
        for name in names:
            self.resync(name)
        self.resynced = names
        return names

    def sweep_holdouts(self) -> list[int]:
        """The holdout runs' pass alone; returns the runs re-queued."""
        release_dead_owners(self.kb.settings.resolved_database_url)
        return self._requeue_holdouts()

    def _requeue_holdouts(self) -> list[int]:
        if self.requeue_holdout is None:
            return []
        found = orphaned_runs(self.kb)
        for run_id in found:
            log.warning("holdout run %s has no live runner; re-queued", run_id)
            self.requeue_holdout(run_id)
        self.holdouts_requeued += len(found)
        return found

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a sweep that fails (database away) is retried next time
                self.failures += 1
                log.exception("the job recovery sweep failed (%d so far)", self.failures)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
