"""Comments on an item: the reviewers' conversation, audited. Functions never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.questionnaires import Item
from service.review.models import ItemComment
from service.review.transitions import ReviewError


def add_comment(session: Session, item: Item, user: User, text: str) -> ItemComment:
    if not text.strip():
        raise ReviewError("a comment needs text")
    comment = ItemComment(item_id=item.id, user_id=user.id, text=text.strip())
    session.add(comment)
    session.flush()
    audit.record(
        session,
        item.questionnaire.workspace_id,
        "item.comment",
        user,
        questionnaire_id=item.questionnaire_id,
        item_id=item.id,
        after={"text": comment.text},
    )
    return comment


def comments(session: Session, item: Item) -> list[tuple[ItemComment, str | None]]:
    """An item's comments, oldest first, each with its author's email."""
    rows = session.execute(
        select(ItemComment, User.email)
        .outerjoin(User, User.id == ItemComment.user_id)
        .where(ItemComment.item_id == item.id)
        .order_by(ItemComment.id)
    ).all()
    return [(comment, email) for comment, email in rows]
