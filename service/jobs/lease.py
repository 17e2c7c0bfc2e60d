"""Leases on background work: who holds a questionnaire, an item or a holdout run, until when.

A runner claims work with one conditional UPDATE (only free, expired or dead leases are taken), so
two runners never hold the same item. A heartbeat thread renews every lease its process holds;
when the process dies the renewals stop and the work is taken again once the lease runs out. A
lease of a process on this very machine that is gone (kill -9, a crash) is released at once, so a
restarted `kotae serve` resumes without waiting for the lease to run out.

An owner is `host:pid:token`; the token tells a restarted process from an earlier one that had the
same pid (a container restarted with the same hostname and pid 1).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update

from service.db import session_scope
from service.evaluation import OPEN_RUN, HoldoutRecord
from service.knowledge_base.models import utcnow
from service.questionnaires import FAILED, PENDING, Item, Questionnaire

log = logging.getLogger(__name__)

# The owner of a questionnaire handed to the Redis queue: no process renews it, so the lease only
# says when the job was last seen moving (workers refresh it as they claim its items).
DISPATCHED = "queue"
OPEN = ("queued", "drafting")  # questionnaire statuses of unfinished drafting
Leased = type[Item] | type[Questionnaire] | type[HoldoutRecord]
WORKABLE = (PENDING, FAILED)  # item statuses drafting may still write

_token = secrets.token_hex(4)


def owner_id() -> str:
    """This process as a lease owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{_token}"


def owner_is_dead(owner: str) -> bool:
    """True only when the owner is surely gone: a process of this machine that no longer runs, or an
    earlier process with this process's pid. Owners on other machines are left to their lease."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return parts[2] != _token
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def expires(seconds: float, now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(seconds=seconds)


def free(model: Leased, now: datetime) -> ColumnElement[bool]:
    """Rows whose lease anyone may take: never held, released, or run out."""
    return or_(model.lease_owner == "", model.lease_expires_at.is_(None), model.lease_expires_at < now)


def claim_questionnaire(url: str, questionnaire_id: int, owner: str, seconds: float, renew: bool = True) -> bool:
    """Take (or keep) the drafting job of a questionnaire, which is `drafting` from then on (a runner
    accepted it: the recovery sweep watches it); False when another live runner holds it or it is
    finished. With `renew=False`, False also when this owner holds it already (it is on its way)."""
    now = utcnow()
    takeable = or_(free(Questionnaire, now), Questionnaire.lease_owner == owner) if renew else free(Questionnaire, now)
    with session_scope(url) as session:
        return bool(
            session.execute(
                update(Questionnaire)
                .where(Questionnaire.id == questionnaire_id, Questionnaire.status.in_(OPEN), takeable)
                .values(status="drafting", lease_owner=owner, lease_expires_at=expires(seconds, now))
                .execution_options(synchronize_session=False)
            ).rowcount
        )


def release_questionnaire(url: str, questionnaire_id: int, owner: str) -> None:
    """Give the job back (done, or given up); only the holder's own lease is cleared."""
    with session_scope(url) as session:
        session.execute(
            update(Questionnaire)
            .where(Questionnaire.id == questionnaire_id, Questionnaire.lease_owner == owner)
            .values(lease_owner="", lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def release_items(url: str, item_ids: list[int], owner: str) -> None:
    """Items this owner claimed and did not write (an error on the way) go back to the pool."""
    with session_scope(url) as session:
        session.execute(
            update(Item)
            .where(Item.id.in_(item_ids), Item.lease_owner == owner)
            .values(lease_owner="", lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def renew(url: str, owner: str, seconds: float) -> int:
    """Push back the expiry of every lease this owner holds; returns how many were renewed."""
    until = expires(seconds)
    with session_scope(url) as session:
        renewed = session.execute(
            update(Item)
            .where(Item.lease_owner == owner, Item.status.in_(WORKABLE))
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        renewed += session.execute(
            update(Questionnaire)
            .where(Questionnaire.lease_owner == owner, Questionnaire.status.in_(OPEN))
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
        renewed += session.execute(
            update(HoldoutRecord)
            .where(HoldoutRecord.lease_owner == owner, HoldoutRecord.status.in_(OPEN_RUN))
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False)
        ).rowcount
    return renewed


def release_dead_owners(url: str) -> list[str]:
    """Clear the leases of processes of this machine that are gone; returns their owners."""
    now = utcnow()
    with session_scope(url) as session:
        held = set(
            session.scalars(
                select(Questionnaire.lease_owner)
                .where(Questionnaire.status.in_(OPEN), Questionnaire.lease_owner != "")
                .distinct()
            )
        )
        held |= set(
            session.scalars(select(Item.lease_owner).where(Item.lease_owner != "", ~free(Item, now)).distinct())
        )
        held |= set(
            session.scalars(
                select(HoldoutRecord.lease_owner)
                .where(HoldoutRecord.status.in_(OPEN_RUN), HoldoutRecord.lease_owner != "")
                .distinct()
            )
        )
        dead = sorted(o for o in held if o != DISPATCHED and owner_is_dead(o))
        for model in (Questionnaire, Item, HoldoutRecord):
            if dead:
                session.execute(
                    update(model)
                    .where(model.lease_owner.in_(dead))
                    .values(lease_owner="", lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                )
    for owner in dead:
        log.warning("released the job leases of %s: that process is gone", owner)
    return dead


class Heartbeat:
    """Renews this process's leases every third of the lease time, in a daemon thread.

    One per (process, database): every runner of the process shares it, started on first use.
    Runners say when they hold work (`holding`); an idle process writes nothing.
    """

    _lock = threading.Lock()
    _running: dict[str, Heartbeat] = {}

    def __init__(self, url: str, owner: str, seconds: float) -> None:
        self.url, self.owner, self.seconds = url, owner, seconds
        self.failures = 0  # renewals that failed (logged): a lease may then run out under a live runner
        self._holders = 0
        self._count = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kotae-lease-heartbeat", daemon=True)

    @classmethod
    def ensure(cls, url: str, owner: str, seconds: float) -> Heartbeat:
        with cls._lock:
            beat = cls._running.get(url)
            if beat is None or beat.owner != owner or not beat._thread.is_alive():
                beat = cls(url, owner, seconds)
                beat._thread.start()
                cls._running[url] = beat
            return beat

    def hold(self) -> None:
        """A runner of this process holds leases now (until its `let_go`): they must be renewed."""
        with self._count:
            self._holders += 1

    def let_go(self) -> None:
        with self._count:
            self._holders -= 1

    @contextmanager
    def holding(self) -> Iterator[None]:
        self.hold()
        try:
            yield
        finally:
            self.let_go()

    def _run(self) -> None:
        while not self._stop.wait(max(0.5, self.seconds / 3)):
            if not self._holders:
                continue
            try:
                renew(self.url, self.owner, self.seconds)
            except Exception:  # noqa: BLE001 - the next beat tries again; meanwhile the lease may lapse
                self.failures += 1
                log.exception("renewing the job leases of %s failed (%d so far)", self.owner, self.failures)


def worker_id() -> str:
    """What `Item.drafted_by` records: the machine and process that drafted the question."""
    return f"{socket.gethostname()}:{os.getpid()}"
