"""The reviewer's desk over HTTP: one load of everything the review page shows, a digest to poll for
what changed, why a draft is as it is, the due date, bulk-accept preview and undo, a workspace's timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy.orm import Session

from service.accounts import email_of, has_role, members, role_in
from service.api.deps import (
    DB,
    KB,
    MAX_ID,
    CurrentUser,
    ItemViewer,
    JobRunner,
    QuestionnaireReviewer,
    QuestionnaireViewer,
    WorkspaceAdmin,
)
from service.api.presenters import audit_out, item_out, questionnaire_out
from service.api.schemas import (
    AuditOut,
    BriefItemOut,
    BulkPreviewOut,
    BulkUndoIn,
    BulkUndoOut,
    DeskItemOut,
    DeskOut,
    DigestOut,
    DueDateIn,
    DueDateOut,
    EvidenceOut,
    FlagOut,
    ProgressOut,
    WhyOut,
)
from service.knowledge_base import Workspace
from service.questionnaires import Item, Questionnaire
from service.review import desk

router = APIRouter(tags=["review desk"])
# Ten digits at most; each id is also held to MAX_ID (an INTEGER column) before it reaches a query.
IdList = Annotated[str, Query(pattern=r"^\d{1,10}(,\d{1,10})*$", max_length=10_000, description="Item ids, a,b,c.")]


def desk_items(db: Session, q: Questionnaire, items: list[Item], me: int) -> list[DeskItemOut]:
    counts = desk.comment_counts(db, q)
    mentioned = desk.mentioned_items(db, q, me)
    return [
        DeskItemOut(
            **item_out(db, i).model_dump(),
            section=i.section or "",
            band=desk.band(i),
            comments=counts.get(i.id, 0),
            mentions_me=i.id in mentioned,
            updated_at=i.updated_at,
            updated_by=email_of(db, i.updated_by),
        )
        for i in items
    ]


def progress_out(db: Session, q: Questionnaire) -> ProgressOut:
    p = desk.review_progress(db, q)
    return ProgressOut(
        total=p.total, reviewed=p.reviewed, approved=p.approved, drafted=p.drafted, share=p.share, counts=p.counts
    )


def brief(item: Item) -> BriefItemOut:
    return BriefItemOut(
        id=item.id,
        ref=item.ref,
        question=item.question,
        confidence=item.confidence,
        version=item.version,
        flags=list(item.flags or []),
    )


@router.get("/questionnaires/{questionnaire_id}/desk", response_model=DeskOut)
def get_desk(q: QuestionnaireViewer, user: CurrentUser, db: DB) -> DeskOut:
    """Everything the review page shows at first: the questionnaire, progress, members and every item."""
    ws = db.get(Workspace, q.workspace_id)
    return DeskOut(
        questionnaire=questionnaire_out(db, q),
        due_date=q.due_date,
        progress=progress_out(db, q),
        sections=desk.sections(db, q),
        me=user.email,
        can_review=has_role(role_in(db, user, q.workspace_id), "reviewer"),
        members=[email for email, _ in members(db, ws)],
        items=desk_items(db, q, list(q.items), user.id),
    )


@router.get("/questionnaires/{questionnaire_id}/desk/digest", response_model=DigestOut)
def get_digest(q: QuestionnaireViewer, db: DB) -> DigestOut:
    """Each item's version and comment count: poll it, then fetch only the items that changed."""
    return DigestOut(status=q.status, progress=progress_out(db, q), due_date=q.due_date, items=desk.item_digest(db, q))


@router.get("/questionnaires/{questionnaire_id}/desk/items", response_model=list[DeskItemOut])
def get_desk_items(q: QuestionnaireViewer, ids: IdList, user: CurrentUser, db: DB) -> list[DeskItemOut]:
    wanted = [int(i) for i in ids.split(",")]
    if max(wanted) > MAX_ID:
        raise HTTPException(422, f"query.ids: an item id is at most {MAX_ID}")
    return desk_items(db, q, desk.items_by_id(db, q, wanted), user.id)


@router.get("/items/{item_id}/why", response_model=WhyOut)
def why(item: ItemViewer, db: DB) -> WhyOut:
    """Why this draft: its confidence band, flags in words, the drafter's note, and each citation with
    its sheet, row, date, product and the words it shares with the question."""
    return WhyOut(
        item_id=item.id,
        band=desk.band(item),
        confidence=item.confidence,
        flags=[FlagOut(flag=f, text=t) for f, t in desk.flag_words(item)],
        note=item.draft_note or "",
        citations=[
            EvidenceOut(
                source=e.source,
                locator=e.locator,
                product=e.product,
                text=e.text,
                spans=e.spans,
                date=e.date,
                language=e.language,
                approved_by=e.approved_by,
            )
            for e in desk.evidence(db, item)
        ],
    )


@router.put("/questionnaires/{questionnaire_id}/due-date", response_model=DueDateOut)
def put_due_date(q: QuestionnaireReviewer, body: DueDateIn, user: CurrentUser, db: DB) -> DueDateOut:
    """When the customer wants the questionnaire back (null: no date). Audited."""
    desk.set_due_date(db, q, user, body.due_date)
    db.commit()
    return DueDateOut(due_date=q.due_date)


@router.get("/questionnaires/{questionnaire_id}/bulk-accept/preview", response_model=BulkPreviewOut)
def bulk_preview(
    q: QuestionnaireReviewer, db: DB, kb: KB, min_confidence: Annotated[float, Query(ge=0, le=1)]
) -> BulkPreviewOut:
    """What a bulk accept at this confidence would accept, and the flagged drafts it would skip."""
    ready, flagged = desk.bulk_candidates(db, q, min_confidence, kb.settings.library_review_months)
    return BulkPreviewOut(
        min_confidence=min_confidence,
        count=len(ready),
        items=[brief(i) for i in ready],
        flagged=[brief(i) for i in flagged],
    )


@router.post("/questionnaires/{questionnaire_id}/bulk-accept/undo", response_model=BulkUndoOut, tags=["review"])
def bulk_undo(q: QuestionnaireReviewer, body: BulkUndoIn, jobs: JobRunner, user: CurrentUser, db: DB) -> BulkUndoOut:
    """Undo a bulk accept within its window: its items go back to drafted unless changed since, and no
    longer teach the knowledge base. Once only (409 after that, or when too late)."""
    restored, kept = desk.undo_bulk(db, q, body.batch_id, user)
    db.commit()
    jobs.sync(db.get(Workspace, q.workspace_id).name)
    return BulkUndoOut(restored=[i.id for i in restored], kept=[i.id for i in kept])


@router.get("/workspaces/{workspace}/audit", response_model=list[AuditOut])
def workspace_audit(ws: WorkspaceAdmin, db: DB, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[AuditOut]:
    """A workspace's latest events, newest first (admins)."""
    return [audit_out(e, email) for e, email in desk.workspace_events(db, ws, limit)]
