"""The review workflow: questionnaires in, drafts reviewed, approved answers back into the knowledge base.

Functions take the caller's session and never commit; `run_drafting` is a job and owns its sessions.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import unicodedata
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from service.accounts.models import User
from service.db import session_scope
from service.drafting import Citation, Draft, get_drafter, read_questionnaire
from service.drafting.questionnaire import Questionnaire as ParsedQuestionnaire
from service.drafting.questionnaire import item_ref
from service.drafting.request import Request
from service.export import FILLABLE, fill, safe_csv_value, sources_text
from service.ingest import CellRef, ParsedItem
from service.ingest.choices import normalize_choice
from service.knowledge_base import KnowledgeBase
from service.knowledge_base.models import Entry, Source, Workspace, utcnow
from service.knowledge_base.service import entry_id
from service.knowledge_base.text import content_hash, passage_text
from service.review.models import (
    ACCEPTED,
    APPROVED,
    DRAFTED,
    EDITED,
    FAILED,
    NEEDS_EXPERT,
    NO_EVIDENCE,
    PENDING,
    REJECTED,
    AuditEvent,
    Item,
    ItemComment,
    Questionnaire,
)

log = logging.getLogger(__name__)


class ReviewError(Exception):
    status_code = 400


class InvalidTransition(ReviewError):
    status_code = 409


class StaleVersion(ReviewError):
    """The item changed since the client read it: nothing is written, the current item is returned."""

    status_code = 409

    def __init__(self, item: Item) -> None:
        super().__init__(f"item {item.id} was changed by someone else (now version {item.version})")
        self.item_id = item.id  # ids only: the request's session is gone when the error is rendered


# --------------------------------------------------------------------------- audit


def snapshot(item: Item) -> dict[str, Any]:
    return {
        "status": item.status,
        "choice": item.choice,
        "answer": item.answer,
        "assignee_id": item.assignee_id,
        "version": item.version,
    }


def audit(
    session: Session,
    workspace_id: int,
    action: str,
    user: User | None,
    *,
    questionnaire_id: int | None = None,
    item_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            workspace_id=workspace_id,
            questionnaire_id=questionnaire_id,
            item_id=item_id,
            user_id=user.id if user else None,
            action=action,
            before=before,
            after=after,
        )
    )


def audit_log(session: Session, questionnaire: Questionnaire) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.questionnaire_id == questionnaire.id).order_by(AuditEvent.id)
        )
    )


# --------------------------------------------------------------------------- questionnaires


def create_questionnaire(
    session: Session,
    kb: KnowledgeBase,
    workspace: Workspace,
    name: str,
    data: bytes,
    user: User | None,
    product: str | None = None,
) -> Questionnaire:
    """Store an uploaded questionnaire and its questions, ready for drafting. Raises IngestError."""
    parsed = read_questionnaire(name, data, kb.limits)
    questionnaire = Questionnaire(
        workspace_id=workspace.id,
        name=name,
        product=product,
        data=data,
        status="queued",
        total=len(parsed.items),
        created_by=user.id if user else None,
    )
    session.add(questionnaire)
    session.flush()
    for position, item in enumerate(parsed.items):
        session.add(
            Item(
                questionnaire_id=questionnaire.id,
                position=position,
                ref=item_ref(item),
                question=item.question,
                language=item.language,
                product=item.product or product,
                sheet=item.sheet,
                row=item.row,
                locator=item.locator,
                answer_col=item.answer_cell.column if item.answer_cell else None,
                choice_col=item.choice_cell.column if item.choice_cell else None,
                notes_col=item.notes_cell.column if item.notes_cell else None,
                status=PENDING,
            )
        )
    audit(
        session,
        workspace.id,
        "questionnaire.upload",
        user,
        questionnaire_id=questionnaire.id,
        after={"name": name, "questions": len(parsed.items), "product": product},
    )
    session.flush()
    return questionnaire


def _draft_values(draft: Draft) -> dict[str, Any]:
    return {
        "draft_choice": draft.choice,
        "draft_answer": draft.answer,
        "confidence": draft.confidence,
        "drafter": draft.drafter,
        "citations": [asdict(c) for c in draft.citations],
        "choice": draft.choice,
        "answer": draft.answer,
        "status": NO_EVIDENCE if draft.status == "no_evidence" else DRAFTED,
        "error": "",
    }


def start_drafting(kb: KnowledgeBase, questionnaire_id: int) -> tuple[str, list[int]]:
    """Mark a questionnaire as drafting; returns its workspace and the items still to draft."""
    with session_scope(kb.settings.resolved_database_url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return "", []
        questionnaire.status = "drafting"
        workspace = session.get(Workspace, questionnaire.workspace_id).name
        todo = [i.id for i in questionnaire.items if i.status in (PENDING, FAILED)]
    return workspace, todo


def draft_items(kb: KnowledgeBase, questionnaire_id: int, item_ids: list[int], worker: str = "") -> int:
    """Draft some items of a questionnaire; safe to run again, by any process, after a crash.

    An item's draft is applied only while the item is still pending (or failed): a batch run a
    second time, or by two workers at once, writes each question into the result exactly once.
    Progress is counted from the items that this call applied. Returns that number.
    """
    url = kb.settings.resolved_database_url
    with session_scope(url) as session:
        questionnaire = session.get(Questionnaire, questionnaire_id)
        if questionnaire is None:
            return 0
        workspace = session.get(Workspace, questionnaire.workspace_id).name
        items = [
            i
            for i in session.scalars(select(Item).where(Item.id.in_(item_ids)).order_by(Item.position))
            if i.status in (PENDING, FAILED)
        ]
        requests = [(i.id, Request(i.ref, i.question, i.language, i.product)) for i in items]
    if not requests:
        _finish_if_complete(url, questionnaire_id)
        return 0
    drafter = get_drafter(kb)
    results: list[Draft | Exception] = []
    with session_scope(url) as session:
        try:
            results = list(drafter.draft_batch(session, workspace, [r for _, r in requests]))
        except Exception:  # noqa: BLE001 - find which questions fail, keep the rest
            for _, request in requests:
                try:
                    results.append(drafter.draft_batch(session, workspace, [request])[0])
                except Exception as exc:  # noqa: BLE001
                    log.exception("drafting failed for %s", request.ref)
                    results.append(exc)
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
    _finish_if_complete(url, questionnaire_id)
    return applied


def progress(session: Session, questionnaire: Questionnaire) -> tuple[int, int]:
    """(done, failed), counted from the items' statuses: a failed question drafted again later
    moves from failed to done instead of being counted twice."""
    counts = status_counts(session, questionnaire)
    return questionnaire.total - counts.get(PENDING, 0), counts.get(FAILED, 0)


def _finish_if_complete(url: str, questionnaire_id: int) -> None:
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
            audit(
                session,
                questionnaire.workspace_id,
                "questionnaire.drafted",
                None,
                questionnaire_id=questionnaire_id,
                after={"done": done, "failed": failed},
            )


def batches(item_ids: list[int], size: int) -> list[list[int]]:
    return [item_ids[i : i + size] for i in range(0, len(item_ids), size)]


def run_drafting(kb: KnowledgeBase, questionnaire_id: int, worker: str = "in-process") -> None:
    """The drafting job of the embedded default: every batch in this process, in order."""
    workspace, todo = start_drafting(kb, questionnaire_id)
    if not workspace:
        return
    with session_scope(kb.settings.resolved_database_url) as session:
        # Entries stored moments ago (an ingest, an approval) must be searchable before drafting.
        kb.sync(session, workspace)
    for batch in batches(todo, kb.settings.drafting_batch_size):
        draft_items(kb, questionnaire_id, batch, worker)
    _finish_if_complete(kb.settings.resolved_database_url, questionnaire_id)


def status_counts(session: Session, questionnaire: Questionnaire) -> dict[str, int]:
    rows = session.execute(
        select(Item.status, func.count()).where(Item.questionnaire_id == questionnaire.id).group_by(Item.status)
    ).all()
    return {status: count for status, count in rows}


def list_items(
    session: Session, questionnaire: Questionnaire, status: str | None = None, min_confidence: float | None = None
) -> list[Item]:
    query = select(Item).where(Item.questionnaire_id == questionnaire.id).order_by(Item.position)
    if status:
        query = query.where(Item.status == status)
    if min_confidence is not None:
        query = query.where(Item.confidence >= min_confidence)
    return list(session.scalars(query))


# --------------------------------------------------------------------------- review actions


def _check_version(item: Item, version: int) -> None:
    if item.version != version:
        raise StaleVersion(item)


def _change(session: Session, item: Item, user: User, action: str, **changes: Any) -> Item:
    questionnaire = item.questionnaire
    before = snapshot(item)
    for key, value in changes.items():
        setattr(item, key, value)
    item.updated_at = utcnow()
    item.updated_by = user.id
    session.flush()  # bumps the version; a concurrent writer's flush now fails instead of overwriting
    audit(
        session,
        questionnaire.workspace_id,
        action,
        user,
        questionnaire_id=questionnaire.id,
        item_id=item.id,
        before=before,
        after=snapshot(item),
    )
    return item


def accept(session: Session, item: Item, user: User, version: int) -> Item:
    _check_version(item, version)
    if item.status in (PENDING, FAILED) or not (item.answer or item.choice):
        raise InvalidTransition(f"item {item.id} has no answer to accept (status {item.status}); edit it instead")
    _change(session, item, user, "item.accept", status=ACCEPTED)
    learn(session, item, user)
    return item


def edit(session: Session, item: Item, user: User, version: int, choice: str | None, answer: str) -> Item:
    _check_version(item, version)
    if item.status == PENDING:
        raise InvalidTransition(f"item {item.id} is still being drafted")
    if not (answer.strip() or choice):
        raise InvalidTransition("an edited answer needs a choice or a text")
    _change(session, item, user, "item.edit", status=EDITED, choice=choice, answer=answer.strip())
    learn(session, item, user)
    return item


def _withdraw(session: Session, item: Item, user: User, version: int, status: str, action: str) -> Item:
    """Reject or send to an expert: the answer no longer speaks for the vendor."""
    _check_version(item, version)
    if item.status == PENDING:
        raise InvalidTransition(f"item {item.id} is still being drafted")
    _change(session, item, user, action, status=status)
    unlearn(session, item)
    return item


def reject(session: Session, item: Item, user: User, version: int) -> Item:
    return _withdraw(session, item, user, version, REJECTED, "item.reject")


def needs_expert(session: Session, item: Item, user: User, version: int) -> Item:
    return _withdraw(session, item, user, version, NEEDS_EXPERT, "item.needs_expert")


def assign(session: Session, item: Item, user: User, version: int, assignee: User | None) -> Item:
    _check_version(item, version)
    return _change(session, item, user, "item.assign", assignee_id=assignee.id if assignee else None)


def add_comment(session: Session, item: Item, user: User, text: str) -> ItemComment:
    if not text.strip():
        raise ReviewError("a comment needs text")
    comment = ItemComment(item_id=item.id, user_id=user.id, text=text.strip())
    session.add(comment)
    session.flush()
    audit(
        session,
        item.questionnaire.workspace_id,
        "item.comment",
        user,
        questionnaire_id=item.questionnaire_id,
        item_id=item.id,
        after={"text": comment.text},
    )
    return comment


def comments(session: Session, item: Item) -> list[ItemComment]:
    return list(session.scalars(select(ItemComment).where(ItemComment.item_id == item.id).order_by(ItemComment.id)))


def bulk_accept(session: Session, questionnaire: Questionnaire, user: User, min_confidence: float) -> list[Item]:
    """Accept every untouched draft at or above a confidence."""
    accepted = []
    for item in list_items(session, questionnaire, status=DRAFTED, min_confidence=min_confidence):
        accepted.append(accept(session, item, user, item.version))
    return accepted


# --------------------------------------------------------------------------- back into the knowledge base


def _review_source(session: Session, questionnaire: Questionnaire) -> Source:
    name = f"review #{questionnaire.id}: {questionnaire.name}"
    source = session.scalar(
        select(Source).where(Source.workspace_id == questionnaire.workspace_id, Source.name == name)
    )
    if source is None:
        source = Source(
            workspace_id=questionnaire.workspace_id,
            name=name,
            kind="review",
            title=questionnaire.name,
            content_sha256="",
            product=questionnaire.product,
        )
        session.add(source)
        session.flush()
    return source


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _item_entry_id(session: Session, item: Item, source: Source) -> str:
    workspace = session.get(Workspace, item.questionnaire.workspace_id)
    return entry_id(workspace.name, source.name, None, item.ref, item.product, 0)


def learn(session: Session, item: Item, user: User) -> Entry | None:
    """An approved answer becomes a knowledge-base entry, with its provenance.

    An answer identical to one the workspace already holds is not stored twice.
    """
    questionnaire = item.questionnaire
    source = _review_source(session, questionnaire)
    own_id = _item_entry_id(session, item, source)
    answer = item.answer or (item.choice or "")
    same_question = session.scalars(
        select(Entry).where(
            Entry.workspace_id == questionnaire.workspace_id, Entry.id != own_id, Entry.question == item.question
        )
    )
    duplicates = [e for e in same_question if _key(e.answer) == _key(answer)]
    existing = session.get(Entry, own_id)
    workspace = session.get(Workspace, questionnaire.workspace_id)
    if duplicates:
        if existing is not None:
            session.delete(existing)
            workspace.revision += 1
        return None
    now = utcnow()
    values = dict(
        workspace_id=questionnaire.workspace_id,
        source_id=source.id,
        sheet=item.sheet,
        row=item.row,
        locator=item.ref,
        section=[],
        question=item.question,
        choice=normalize_choice(item.choice or ""),
        choice_raw=item.choice or "",
        answer=answer,
        notes="",
        product=item.product,
        language=item.language,
        sheet_date=now.date(),
        ingested_at=now,
        content_hash=content_hash(passage_text(item.question, answer)),
        provenance={
            "questionnaire_id": questionnaire.id,
            "questionnaire": questionnaire.name,
            "item_id": item.id,
            "reviewer": user.email,
            "approved_at": now.isoformat(),
        },
    )
    if existing is None:
        existing = Entry(id=own_id, **values)
        session.add(existing)
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    workspace.revision += 1
    session.flush()
    return existing


def unlearn(session: Session, item: Item) -> None:
    """A rejected (or sent-to-expert) answer no longer speaks for the vendor."""
    source = _review_source(session, item.questionnaire)
    removed = session.execute(delete(Entry).where(Entry.id == _item_entry_id(session, item, source))).rowcount
    if removed:
        session.get(Workspace, item.questionnaire.workspace_id).revision += 1


# --------------------------------------------------------------------------- export


def _item_draft(item: Item) -> Draft:
    citations = [
        Citation(**{k: c.get(k) for k in ("entry_id", "source", "locator", "text", "product")})
        for c in item.citations or []
    ]
    status = "no_evidence" if item.status == NO_EVIDENCE else "drafted"
    return Draft(
        item.ref,
        item.question,
        item.language,
        item.choice,
        item.answer,
        item.confidence,
        status,
        citations,
        item.drafter or "offline",
    )


def _parsed_item(item: Item) -> ParsedItem:
    def cell(column: int | None) -> CellRef | None:
        return CellRef(item.row, column) if column is not None else None

    return ParsedItem(
        sheet=item.sheet,
        row=item.row,
        locator=item.locator,
        section=[],
        question=item.question,
        language=item.language,
        product=item.product,
        answer_cell=cell(item.answer_col),
        notes_cell=cell(item.notes_col),
        choice_cell=cell(item.choice_col),
    )


def export(questionnaire: Questionnaire, fmt: str, include_all: bool = False) -> tuple[bytes, str, str]:
    """(content, media type, file name). Only accepted and edited answers unless include_all."""
    items = list(questionnaire.items)
    chosen = [i for i in items if include_all and i.status not in (PENDING, FAILED) or i.status in APPROVED]
    stem = questionnaire.name.rsplit(".", 1)[0]
    if fmt == "original":
        suffix = "." + questionnaire.name.rsplit(".", 1)[-1].lower()
        if suffix not in FILLABLE:
            raise ReviewError(f"cannot write answers back into a '{suffix}' file; export json or csv")
        parsed = ParsedQuestionnaire(questionnaire.name, questionnaire.data, [_parsed_item(i) for i in chosen])
        content = fill(parsed, [_item_draft(i) for i in chosen])
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if suffix != ".csv" else "text/csv"
        return content, media, f"{stem}_answered{suffix}"
    rows = [
        {
            "ref": i.ref,
            "question": i.question,
            "language": i.language,
            "choice": i.choice,
            "answer": i.answer,
            "confidence": i.confidence,
            "status": i.status,
            "citations": i.citations,
        }
        for i in chosen
    ]
    if fmt == "json":
        data = json.dumps({"questionnaire": questionnaire.name, "items": rows}, ensure_ascii=False, indent=2)
        return data.encode("utf-8"), "application/json", f"{stem}_answered.json"
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["ref", "question", "choice", "answer", "status", "confidence", "sources"])
        for i in chosen:
            answer = safe_csv_value(i.answer)
            writer.writerow(
                [
                    i.ref,
                    i.question,
                    i.choice or "",
                    answer,
                    i.status,
                    f"{i.confidence:.2f}",
                    sources_text(_item_draft(i)),
                ]
            )
        return out.getvalue().encode("utf-8-sig"), "text/csv", f"{stem}_answered.csv"
    raise ReviewError(f"unknown export format {fmt!r} (original, json, csv)")
