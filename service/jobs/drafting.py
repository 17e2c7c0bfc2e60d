"""The drafting job: a stored questionnaire's pending questions drafted through the one pipeline.

Each step opens and commits its own sessions (a job owns its transactions). `draft_items` is
idempotent: a draft is applied only to a still-pending (or failed) item, so a batch run twice,
or by two workers at once, writes each question exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from sqlalchemy import select, update

from service import audit
from service.db import session_scope
from service.drafting import Draft, Request, draft_requests, get_drafter, question_key
from service.knowledge_base import KnowledgeBase, Workspace
from service.knowledge_base.models import utcnow
from service.questionnaires import DRAFTED, FAILED, NO_EVIDENCE, PENDING, Item, Questionnaire, progress

log = logging.getLogger(__name__)


def start_drafting(kb: KnowledgeBase, questionnaire_id: int) -> tuple[str, list[list[int]]]:
    """Mark a questionnaire as drafting; returns its workspace and the batches of items to draft.

    Identical questions land in the same batch, so the pipeline drafts them once.
    """
    with session_scope(kb.settings.resolved_database_url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return "", []
        questionnaire.status = "drafting"
        workspace = session.get(Workspace, questionnaire.workspace_id).name
        groups: dict[tuple[str, str], list[int]] = {}
        for item in questionnaire.items:
            if item.status in (PENDING, FAILED):
                groups.setdefault(question_key(item.question, item.product), []).append(item.id)
    return workspace, _pack(list(groups.values()), kb.settings.drafting_batch_size)


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


def draft_items(kb: KnowledgeBase, questionnaire_id: int, item_ids: list[int], worker: str = "") -> int:
    """Draft some items of a questionnaire; safe to run again, by any process, after a crash.

    Returns the number of items this call applied a draft (or a failure) to.
    """
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return 0
        workspace = session.get(Workspace, questionnaire.workspace_id).name
        query = select(Item).where(Item.id.in_(item_ids), Item.status.in_((PENDING, FAILED))).order_by(Item.position)
        requests = [(i.id, Request(i.ref, i.question, i.language, i.product)) for i in session.scalars(query)]
    if not requests:
        finish_if_complete(url, questionnaire_id)
        return 0
    results = _draft(kb, workspace, [r for _, r in requests])
    fallbacks = [r for r in results if isinstance(r, Draft) and r.drafter == "offline_fallback"]
    if fallbacks:
        log.warning(
            "questionnaire %s: %d drafts fell back to the offline drafter: %s",
            questionnaire_id,
            len(fallbacks),
            fallbacks[0].note,
        )
    applied = 0
    with session_scope(url) as session:
        for (item_id, _), result in zip(requests, results, strict=True):
            if isinstance(result, Exception):
                values: dict[str, Any] = {"status": FAILED, "error": f"{type(result).__name__}: {result}"[:2000]}
            else:
                values = _draft_values(result)
            applied += session.execute(
                update(Item)
                .where(Item.id == item_id, Item.status.in_((PENDING, FAILED)))
                .values(
                    **values,
                    drafted_by=worker,
                    draft_count=Item.draft_count + 1,
                    version=Item.version + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            ).rowcount
    finish_if_complete(url, questionnaire_id)
    return applied


def finish_if_complete(url: str, questionnaire_id: int) -> None:
    """Once no item is pending: the questionnaire is done (or failed, when every item failed), audited once."""
    with session_scope(url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None or questionnaire.status in ("done", "failed"):
            return
        done, failed = progress(session, questionnaire)
        if done < questionnaire.total:
            return
        all_failed = failed and failed == questionnaire.total
        changed = session.execute(
            update(Questionnaire)
            .where(Questionnaire.id == questionnaire_id, Questionnaire.status.notin_(("done", "failed")))
            .values(status="failed" if all_failed else "done")
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


def run_drafting(kb: KnowledgeBase, questionnaire_id: int, worker: str = "in-process") -> None:
    """The drafting job of the embedded default: every batch in this process, in order."""
    workspace, batches = start_drafting(kb, questionnaire_id)
    if not workspace:
        return
    with session_scope(kb.settings.resolved_database_url) as session:
        # Entries stored moments ago (an ingest, an approval) must be searchable before drafting.
        kb.sync(session, workspace)
    for batch in batches:
        draft_items(kb, questionnaire_id, batch, worker)
    finish_if_complete(kb.settings.resolved_database_url, questionnaire_id)
