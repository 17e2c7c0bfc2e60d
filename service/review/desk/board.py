"""Progress, filters, sections, comments with @-mentions, due dates and timelines. Never commits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import Membership, User
from service.audit.models import AuditEvent
from service.knowledge_base import Workspace
from service.questionnaires import (
    ACCEPTED,
    APPROVED,
    DRAFTED,
    EDITED,
    FAILED,
    NEEDS_EXPERT,
    NO_EVIDENCE,
    PENDING,
    REJECTED,
    Item,
    Questionnaire,
    status_counts,
)
from service.review.comments import add_comment, comments
from service.review.models import ItemComment

HIGH, MEDIUM = 0.8, 0.6  # confidence bands: high from 0.8, medium from 0.6, low below
BANDS = ("high", "medium", "low", "none")
REVIEWED = (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT)  # a person decided
OPEN = (DRAFTED, NO_EVIDENCE, FAILED)  # waiting for a person ("open" in the status filter)


def band(item: Item) -> str:
    """The confidence band a reviewer reads: high, medium, low, or none (nothing to trust yet)."""
    if item.status in (PENDING, FAILED, NO_EVIDENCE):
        return "none"
    return "high" if item.confidence >= HIGH else "medium" if item.confidence >= MEDIUM else "low"


@dataclass
class Progress:
    total: int
    reviewed: int  # accepted, edited, rejected or sent to an expert
    approved: int  # accepted or edited: what an export writes
    drafted: int  # no longer pending
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        return self.reviewed / self.total if self.total else 0.0


def review_progress(session: Session, questionnaire: Questionnaire) -> Progress:
    counts = status_counts(session, questionnaire)
    total = questionnaire.total
    return Progress(
        total=total,
        reviewed=sum(counts.get(s, 0) for s in REVIEWED),
        approved=sum(counts.get(s, 0) for s in APPROVED),
        drafted=total - counts.get(PENDING, 0),
        counts=counts,
    )


def filter_items(
    session: Session,
    questionnaire: Questionnaire,
    *,
    status: str | None = None,
    flag: str | None = None,
    confidence_band: str | None = None,
    section: str | None = None,
    assignee_id: int | None = None,
    mentioning: int | None = None,
    min_confidence: float | None = None,
) -> list[Item]:
    """Items in questionnaire order that pass every filter given. `status` "open": waiting for a person."""
    query = select(Item).where(Item.questionnaire_id == questionnaire.id).order_by(Item.position)
    if status == "open":
        query = query.where(Item.status.in_(OPEN))
    elif status:
        query = query.where(Item.status == status)
    if section is not None:
        query = query.where(Item.section == section)
    if assignee_id is not None:
        query = query.where(Item.assignee_id == assignee_id)
    if min_confidence is not None:
        query = query.where(Item.confidence >= min_confidence)
    items = list(session.scalars(query))
    if flag:
        items = [i for i in items if flag in (i.flags or [])]
    if confidence_band:
        items = [i for i in items if band(i) == confidence_band]
    if mentioning is not None:
        wanted = mentioned_items(session, questionnaire, mentioning)
        items = [i for i in items if i.id in wanted]
    return items


def items_by_id(session: Session, questionnaire: Questionnaire, ids: list[int]) -> list[Item]:
    """The questionnaire's items among `ids`, in questionnaire order (other questionnaires' ids are ignored)."""
    query = select(Item).where(Item.questionnaire_id == questionnaire.id, Item.id.in_(ids)).order_by(Item.position)
    return list(session.scalars(query))


def comment_counts(session: Session, questionnaire: Questionnaire) -> dict[int, int]:
    rows = session.execute(
        select(ItemComment.item_id, func.count())
        .join(Item, Item.id == ItemComment.item_id)
        .where(Item.questionnaire_id == questionnaire.id)
        .group_by(ItemComment.item_id)
    )
    return {item_id: count for item_id, count in rows}


def sections(session: Session, questionnaire: Questionnaire) -> list[str]:
    """The questionnaire's sections in order of first appearance."""
    rows = session.execute(
        select(Item.section, func.min(Item.position))
        .where(Item.questionnaire_id == questionnaire.id, Item.section != "")
        .group_by(Item.section)
        .order_by(func.min(Item.position))
    )
    return [name for name, _ in rows]


def item_digest(session: Session, questionnaire: Questionnaire) -> list[tuple[int, int, int]]:
    """(item id, version, comment count) for every item: what a page compares to see what changed."""
    rows = session.execute(
        select(Item.id, Item.version, func.count(ItemComment.id))
        .outerjoin(ItemComment, ItemComment.item_id == Item.id)
        .where(Item.questionnaire_id == questionnaire.id)
        .group_by(Item.id, Item.version, Item.position)
        .order_by(Item.position)
    )
    return [(item_id, version, count) for item_id, version, count in rows]


_MENTION = re.compile(r"(?<![\w.])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)", re.ASCII)


def members_mentioned(session: Session, workspace_id: int, text: str) -> list[User]:
    """Workspace members the text @-mentions, by email or by the part before the @ when that is unique."""
    said = {m.lower().rstrip(".") for m in _MENTION.findall(text)}
    if not said:
        return []
    members = list(
        session.scalars(
            select(User).join(Membership, Membership.user_id == User.id).where(Membership.workspace_id == workspace_id)
        )
    )
    local = [m.email.split("@")[0] for m in members]
    return [
        m
        for m, name in zip(members, local, strict=True)
        if m.email in said or (name in said and local.count(name) == 1)
    ]


def comment(session: Session, item: Item, user: User, text: str) -> tuple[ItemComment, list[str]]:
    """Add a comment; returns it with the emails of the members it mentions."""
    mentioned = members_mentioned(session, item.questionnaire.workspace_id, text)
    added = add_comment(session, item, user, text)
    added.mentions = [m.id for m in mentioned]
    session.flush()
    return added, [m.email for m in mentioned]


def thread(session: Session, item: Item) -> list[tuple[ItemComment, str | None, list[str]]]:
    """An item's comments, oldest first: each with its author's email and the emails it mentions."""
    rows = comments(session, item)
    ids = {i for c, _ in rows for i in c.mentions or []}
    emails = {i: e for i, e in session.execute(select(User.id, User.email).where(User.id.in_(ids)))} if ids else {}
    return [(c, author, [emails[i] for i in c.mentions or [] if i in emails]) for c, author in rows]


def mentioned_items(session: Session, questionnaire: Questionnaire, user_id: int) -> set[int]:
    rows = session.execute(
        select(ItemComment.item_id, ItemComment.mentions)
        .join(Item, Item.id == ItemComment.item_id)
        .where(Item.questionnaire_id == questionnaire.id)
    )
    return {item_id for item_id, mentions in rows if user_id in (mentions or [])}


def set_due_date(session: Session, questionnaire: Questionnaire, user: User, due: date | None) -> Questionnaire:
    before = questionnaire.due_date
    questionnaire.due_date = due
    session.flush()
    audit.record(
        session,
        questionnaire.workspace_id,
        "questionnaire.due_date",
        user,
        questionnaire_id=questionnaire.id,
        before={"due_date": before.isoformat() if before else None},
        after={"due_date": due.isoformat() if due else None},
    )
    return questionnaire


def workspace_events(session: Session, workspace: Workspace, limit: int = 200) -> list[tuple[AuditEvent, str | None]]:
    """A workspace's latest events, newest first, each with the acting user's email."""
    rows = session.execute(
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.workspace_id == workspace.id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [(event, email) for event, email in rows]


@dataclass
class ExportSummary:
    total: int
    approved: int  # approved with an answer: the rows an approved-only export writes
    blank: int  # rows an approved-only export leaves blank
    unapproved: int  # drafted, without evidence, rejected, with an expert, failed or pending
    counts: dict[str, Any]


def export_summary(session: Session, questionnaire: Questionnaire) -> ExportSummary:
    answered = session.scalar(
        select(func.count()).where(
            Item.questionnaire_id == questionnaire.id,
            Item.status.in_(APPROVED),
            (Item.answer != "") | (Item.choice.is_not(None) & (Item.choice != "")),
        )
    )
    counts = status_counts(session, questionnaire)
    approved = sum(counts.get(s, 0) for s in APPROVED)
    return ExportSummary(
        total=questionnaire.total,
        approved=answered or 0,
        blank=questionnaire.total - (answered or 0),
        unapproved=questionnaire.total - approved,
        counts={s: counts.get(s, 0) for s in (DRAFTED, NO_EVIDENCE, REJECTED, NEEDS_EXPERT, FAILED, PENDING)},
    )
