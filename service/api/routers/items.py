"""Review actions on one item. Every change names the version it is based on (409 when stale)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy.orm import Session

from service import review
from service.accounts import role_in, user_by_email
from service.api.deps import DB, CurrentUser, ItemReviewer, ItemViewer, JobRunner
from service.api.presenters import item_out
from service.api.schemas import AssignIn, CommentIn, CommentOut, EditIn, ItemOut, VersionIn
from service.jobs import Jobs
from service.knowledge_base import Workspace
from service.questionnaires import Item

router = APIRouter(prefix="/items/{item_id}", tags=["review"])


def _committed(db: Session, jobs: Jobs, item: Item) -> ItemOut:
    """Commit the change, then let the vector index learn the approved (or withdrawn) answer."""
    db.commit()
    jobs.sync(db.get(Workspace, item.questionnaire.workspace_id).name)
    return item_out(db, item)


@router.get("", response_model=ItemOut)
def get_item(item: ItemViewer, db: DB) -> ItemOut:
    return item_out(db, item)


@router.post("/accept", response_model=ItemOut)
def accept(item: ItemReviewer, body: VersionIn, jobs: JobRunner, user: CurrentUser, db: DB) -> ItemOut:
    return _committed(db, jobs, review.accept(db, item, user, body.version))


@router.post("/edit", response_model=ItemOut)
def edit(item: ItemReviewer, body: EditIn, jobs: JobRunner, user: CurrentUser, db: DB) -> ItemOut:
    return _committed(db, jobs, review.edit(db, item, user, body.version, body.choice, body.answer))


@router.post("/reject", response_model=ItemOut)
def reject(item: ItemReviewer, body: VersionIn, jobs: JobRunner, user: CurrentUser, db: DB) -> ItemOut:
    return _committed(db, jobs, review.reject(db, item, user, body.version))


@router.post("/needs-expert", response_model=ItemOut)
def needs_expert(item: ItemReviewer, body: VersionIn, jobs: JobRunner, user: CurrentUser, db: DB) -> ItemOut:
    return _committed(db, jobs, review.needs_expert(db, item, user, body.version))


@router.post("/assign", response_model=ItemOut)
def assign(item: ItemReviewer, body: AssignIn, user: CurrentUser, db: DB) -> ItemOut:
    assignee = None
    if body.assignee:
        assignee = user_by_email(db, body.assignee)
        if assignee is None or role_in(db, assignee, item.questionnaire.workspace_id) is None:
            raise HTTPException(422, f"{body.assignee} is not a member of this workspace")
    review.assign(db, item, user, body.version, assignee)
    db.commit()
    return item_out(db, item)


@router.post("/comments", response_model=CommentOut, status_code=201)
def comment(item: ItemReviewer, body: CommentIn, user: CurrentUser, db: DB) -> CommentOut:
    """Add a comment; `@email` (or `@name` when only one member's email starts so) mentions a member."""
    c, mentioned = review.desk.comment(db, item, user, body.text)
    db.commit()
    return CommentOut(id=c.id, user=user.email, text=c.text, created_at=c.created_at, mentions=mentioned)


@router.get("/comments", response_model=list[CommentOut])
def get_comments(item: ItemViewer, db: DB) -> list[CommentOut]:
    """The item's comments, oldest first, with the members each mentions."""
    return [
        CommentOut(id=c.id, user=email, text=c.text, created_at=c.created_at, mentions=mentioned)
        for c, email, mentioned in review.desk.thread(db, item)
    ]
