"""Core objects as response bodies."""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.accounts import email_of
from service.api.schemas import AuditOut, CitationOut, EntryOut, ItemOut, QuestionnaireOut
from service.audit import AuditEvent
from service.knowledge_base import Entry, Workspace
from service.questionnaires import Item, Questionnaire, fallback_count, progress, status_counts


def entry_out(entry: Entry, score: float | None = None) -> EntryOut:
    return EntryOut(
        id=entry.id,
        source=entry.source.name,
        locator=entry.locator,
        sheet=entry.sheet,
        section=entry.section,
        question=entry.question,
        choice=entry.choice,
        answer=entry.answer,
        product=entry.product,
        language=entry.language,
        provenance=entry.provenance,
        score=score,
    )


def audit_out(event: AuditEvent, email: str | None) -> AuditOut:
    """One audit event, as both the questionnaire's log and the workspace's timeline show it."""
    return AuditOut(
        id=event.id,
        at=event.at,
        user=email,
        action=event.action,
        item_id=event.item_id,
        questionnaire_id=event.questionnaire_id,
        before=event.before,
        after=event.after,
    )


def questionnaire_out(db: Session, q: Questionnaire) -> QuestionnaireOut:
    done, failed = progress(db, q)
    return QuestionnaireOut(
        id=q.id,
        workspace=db.get(Workspace, q.workspace_id).name,
        name=q.name,
        product=q.product,
        status=q.status,
        total=q.total,
        done=done,
        failed=failed,
        fallbacks=fallback_count(db, q),
        counts=status_counts(db, q),
        created_at=q.created_at,
        error=q.error,
    )


def item_out(db: Session, item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        questionnaire_id=item.questionnaire_id,
        position=item.position,
        ref=item.ref,
        question=item.question,
        language=item.language,
        status=item.status,
        choice=item.choice,
        answer=item.answer,
        draft_choice=item.draft_choice,
        draft_answer=item.draft_answer,
        confidence=item.confidence,
        confidence_source=item.confidence_source or "",
        drafter=item.drafter,
        flags=list(item.flags or []),
        draft_note=item.draft_note or "",
        citations=[CitationOut(**c) for c in item.citations or []],
        assignee=email_of(db, item.assignee_id),
        version=item.version,
        error=item.error,
    )
