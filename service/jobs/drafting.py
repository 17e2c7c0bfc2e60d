"""The drafting job: a stored questionnaire's pending questions drafted through the one pipeline.

Each step opens and commits its own sessions (a job owns its transactions). `draft_items` is
idempotent: items are claimed under a lease (lease.py) and a draft is applied only by the lease
holder to a still-pending (or failed) item, so a batch run twice, by two workers at once, or again
after a crash, writes each question exactly once. Every claim counts an attempt: a question is
tried at most `job_max_attempts` times, then ends failed with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from service import audit
from service.db import session_scope
from service.drafting import Draft, Request, draft_requests, get_drafter, question_key
from service.jobs.lease import (
    DISPATCHED,
    WORKABLE,
    Heartbeat,
    claim_questionnaire,
    expires,
    free,
    owner_id,
    release_dead_owners,
    release_items,
    release_questionnaire,
    worker_id,
)
from service.knowledge_base import KnowledgeBase, Workspace
from service.knowledge_base.models import utcnow
from service.questionnaires import DRAFTED, FAILED, NO_EVIDENCE, PENDING, Item, Questionnaire, progress
from service.settings import Settings

log = logging.getLogger(__name__)


def start_drafting(kb: KnowledgeBase, questionnaire_id: int, owner: str) -> tuple[str, list[list[int]]]:
    """Take the questionnaire's drafting job for `owner` and mark it drafting; returns its workspace
    and the batches of items still to draft. ("", []) when another live runner holds it, or it is finished.

    Identical questions land in the same batch, so the pipeline drafts them once.
    """
    url = kb.settings.resolved_database_url
    if not claim_questionnaire(url, questionnaire_id, owner, kb.settings.job_lease_seconds):
        return "", []
    now = utcnow()
    with session_scope(url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return "", []
        workspace = session.get(Workspace, questionnaire.workspace_id).name
        groups: dict[tuple[str, str], list[int]] = {}
        query = select(Item).where(Item.questionnaire_id == questionnaire_id, to_draft(kb.settings, now))
        for item in session.scalars(query.order_by(Item.position)):
            groups.setdefault(question_key(item.question, item.product), []).append(item.id)
    return workspace, _pack(list(groups.values()), kb.settings.drafting_batch_size)


def to_draft(settings: Settings, now: datetime) -> ColumnElement[bool]:
    """Items a runner may take now: pending, or failed with attempts left; under no live lease.

    A pending item out of attempts is included too: taking it marks it failed, with the reason.
    """
    return and_(
        or_(Item.status == PENDING, and_(Item.status == FAILED, Item.attempts < settings.job_max_attempts)),
        free(Item, now),
    )


def _pack(groups: list[list[int]], size: int) -> list[list[int]]:
    batches: list[list[int]] = []
    for group in groups:
        if batches and len(batches[-1]) + len(group) <= size:
            batches[-1].extend(group)
        else:
            batches.append(list(group))
    return batches


def _draft_values(draft: Draft) -> dict[str, Any]:
    return {
        "draft_choice": draft.choice,
        "draft_answer": draft.answer,
        "confidence": draft.confidence,
        "confidence_source": draft.confidence_source[:300],
        "drafter": draft.drafter,
        "citations": [asdict(c) for c in draft.citations],
        "flags": list(draft.flags),
        "draft_note": draft.note,
        "choice": draft.choice,
        "answer": draft.answer,
        "status": NO_EVIDENCE if draft.status == "no_evidence" else DRAFTED,
        "error": "",
    }


def _draft(kb: KnowledgeBase, workspace: str, requests: list[Request]) -> list[Draft | Exception]:
    """Drafts for the requests; when the batch fails, each question alone, so one bad question fails alone."""
    drafter = get_drafter(kb)
    with session_scope(kb.settings.resolved_database_url) as session:
        try:
            return list(draft_requests(session, drafter, workspace, requests))
        except Exception:  # noqa: BLE001 - find which questions fail, keep the rest
            log.warning("drafting a batch of %d failed; drafting its questions one by one", len(requests))
        results: list[Draft | Exception] = []
        for request in requests:
            try:
                results.append(draft_requests(session, drafter, workspace, [request])[0])
            except Exception as exc:  # noqa: BLE001 - recorded on the item as `failed` with the reason
                log.exception("drafting failed for %s", request.ref)
                results.append(exc)
        return results


def claim_items(
    kb: KnowledgeBase, questionnaire_id: int, item_ids: list[int], owner: str
) -> tuple[int, list[tuple[int, int, Request]]]:
    """Claim the batch's items that are free to draft for `owner`, counting an attempt on each
    (the first step of `draft_items`, which then drafts and writes them, and lets go of the rest).

    Returns (items marked failed because they ran out of attempts, [(item id, attempt, request)]).
    """
    settings = kb.settings
    most = settings.job_max_attempts
    now = utcnow()
    with session_scope(settings.resolved_database_url) as session:
        mine = and_(Item.id.in_(item_ids), Item.questionnaire_id == questionnaire_id, to_draft(settings, now))
        # A question whose every attempt ended with its runner gone (killed, lease lost) is given up.
        gave_up = session.execute(
            update(Item)
            .where(mine, Item.status == PENDING, Item.attempts >= settings.job_max_attempts)
            .values(
                status=FAILED,
                error=f"gave up after {most} attempt{'s' if most != 1 else ''}: none ended with a draft "
                "(the process drafting the question stopped, or lost its lease)",
                lease_owner="",
                lease_expires_at=None,
                version=Item.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        claim = (
            update(Item)
            .where(mine, Item.attempts < settings.job_max_attempts)
            .values(
                lease_owner=owner, lease_expires_at=expires(settings.job_lease_seconds, now), attempts=Item.attempts + 1
            )
            .execution_options(synchronize_session=False)
        )
        if session.get_bind().dialect.update_returning:
            # Exactly the rows this UPDATE took: a sibling thread of this process (same owner) drafting
            # the same batch keeps its own items.
            ids = set(session.scalars(claim.returning(Item.id)))
        else:
            session.execute(claim)
            query = select(Item.id).where(Item.id.in_(item_ids), Item.lease_owner == owner, Item.status.in_(WORKABLE))
            ids = set(session.scalars(query))
        # A job handed to the queue is seen moving: the recovery sweep leaves it alone a lease longer.
        session.execute(
            update(Questionnaire)
            .where(Questionnaire.id == questionnaire_id, Questionnaire.lease_owner == DISPATCHED)
            .values(lease_expires_at=expires(settings.job_lease_seconds, now))
            .execution_options(synchronize_session=False)
        )
        claimed = [
            (i.id, i.attempts, Request(i.ref, i.question, i.language, i.product))
            for i in session.scalars(select(Item).where(Item.id.in_(ids)).order_by(Item.position))
        ]
    return gave_up, claimed


def draft_items(
    kb: KnowledgeBase, questionnaire_id: int, item_ids: list[int], worker: str = "", owner: str | None = None
) -> int:
    """Draft some items of a questionnaire; safe to run again, by any process, after a crash.

    Each item is claimed under a lease (renewed by this process's heartbeat) with its attempt
    counted, and a draft is written only by the lease holder to a still-pending (or failed) item:
    a batch run twice, or by two workers at once, writes each question exactly once. A question
    whose drafting raises is tried again at once, up to `job_max_attempts`, then ends failed with
    the reason. Returns the number of items this call applied a draft (or a failure) to.
    """
    settings = kb.settings
    url = settings.resolved_database_url
    owner = owner or owner_id()
    with Heartbeat.ensure(url, owner, settings.job_lease_seconds).holding():
        return _draft_items(kb, questionnaire_id, item_ids, worker, owner)


def _draft_items(kb: KnowledgeBase, questionnaire_id: int, item_ids: list[int], worker: str, owner: str) -> int:
    url = kb.settings.resolved_database_url
    # A batch redelivered because its worker died finds that worker's leases: on this machine they
    # are released at once; elsewhere they run out, and the recovery sweep sends the batch again.
    release_dead_owners(url)
    with session_scope(url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return 0
        workspace = session.get(Workspace, questionnaire.workspace_id).name
    applied = 0
    while True:
        gave_up, claimed = claim_items(kb, questionnaire_id, item_ids, owner)
        applied += gave_up
        if not claimed:
            break
        try:
            applied += _draft_and_apply(kb, workspace, questionnaire_id, claimed, worker, owner)
        finally:
            # Whatever this round did not write (an error on the way) is free again at once.
            release_items(url, [item_id for item_id, _, _ in claimed], owner)
    finish_if_complete(kb, questionnaire_id)
    return applied


def _draft_and_apply(
    kb: KnowledgeBase,
    workspace: str,
    questionnaire_id: int,
    claimed: list[tuple[int, int, Request]],
    worker: str,
    owner: str,
) -> int:
    try:
        results = _draft(kb, workspace, [r for _, _, r in claimed])
    except Exception as exc:  # noqa: BLE001 - no drafter at all (its configuration): each question fails with it
        log.exception("questionnaire %s: drafting a batch of %d failed", questionnaire_id, len(claimed))
        results = [exc] * len(claimed)
    fallbacks = [r for r in results if isinstance(r, Draft) and r.drafter == "offline_fallback"]
    if fallbacks:
        log.warning(
            "questionnaire %s: %d drafts fell back to the offline drafter: %s",
            questionnaire_id,
            len(fallbacks),
            fallbacks[0].note,
        )
    most = kb.settings.job_max_attempts
    applied = 0
    with session_scope(kb.settings.resolved_database_url) as session:
        for (item_id, attempt, _), result in zip(claimed, results, strict=True):
            if isinstance(result, Exception):
                reason = f"{type(result).__name__}: {result}"
                if attempt >= most:
                    reason = f"failed after {attempt} attempts: {reason}"
                values: dict[str, Any] = {"status": FAILED, "error": reason[:2000]}
            else:
                values = {**_draft_values(result), "draft_count": Item.draft_count + 1}
            applied += session.execute(
                update(Item)
                .where(Item.id == item_id, Item.status.in_(WORKABLE), Item.lease_owner == owner)
                .values(
                    **values,
                    drafted_by=worker,
                    lease_owner="",
                    lease_expires_at=None,
                    version=Item.version + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
    return applied


def finish_if_complete(kb: KnowledgeBase, questionnaire_id: int) -> None:
    """Once no item is left to draft (none pending, none failed with attempts left): the questionnaire
    is done (or failed, when every item failed), audited once."""
    settings = kb.settings
    with session_scope(settings.resolved_database_url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None or questionnaire.status in ("done", "failed"):
            return
        left = session.scalar(
            select(func.count()).where(
                Item.questionnaire_id == questionnaire_id,
                or_(
                    Item.status == PENDING,
                    and_(Item.status == FAILED, Item.attempts < settings.job_max_attempts),
                ),
            )
        )
        if left:
            return
        done, failed = progress(session, questionnaire)
        all_failed = failed and failed == questionnaire.total
        changed = session.execute(
            update(Questionnaire)
            .where(Questionnaire.id == questionnaire_id, Questionnaire.status.notin_(("done", "failed")))
            .values(status="failed" if all_failed else "done", lease_owner="", lease_expires_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            audit.record(
                session,
                questionnaire.workspace_id,
                "questionnaire.drafted",
                None,
                questionnaire_id=questionnaire_id,
                after={"done": done, "failed": failed},
            )


def run_drafting(kb: KnowledgeBase, questionnaire_id: int, owner: str | None = None) -> None:
    """The drafting job of the embedded default: every batch in this process, in order, under the
    questionnaire's lease (released at the end, whatever happens, so a failed job is re-queued)."""
    owner = owner or owner_id()
    with Heartbeat.ensure(kb.settings.resolved_database_url, owner, kb.settings.job_lease_seconds).holding():
        _run_drafting(kb, questionnaire_id, owner)


def _run_drafting(kb: KnowledgeBase, questionnaire_id: int, owner: str) -> None:
    url = kb.settings.resolved_database_url
    workspace, batches = start_drafting(kb, questionnaire_id, owner)
    if not workspace:
        return
    try:
        try:
            with session_scope(url) as session:
                # Entries stored moments ago (an ingest, an approval) must be searchable before drafting.
                kb.sync(session, workspace)
        except Exception as exc:  # noqa: BLE001 - draft from the index as it is; what cannot be drafted fails
            # Logged, and kept on the questionnaire: its drafts may miss entries stored moments ago.
            log.exception("questionnaire %s: syncing workspace %r before drafting failed", questionnaire_id, workspace)
            with session_scope(url) as session:
                session.execute(
                    update(Questionnaire)
                    .where(Questionnaire.id == questionnaire_id)
                    .values(error=f"the vector sync before drafting failed: {type(exc).__name__}: {exc}"[:2000])
                    .execution_options(synchronize_session=False)
                )
        for batch in batches:
            draft_items(kb, questionnaire_id, batch, worker_id(), owner)
        finish_if_complete(kb, questionnaire_id)
    finally:
        release_questionnaire(url, questionnaire_id, owner)
