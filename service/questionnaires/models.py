"""Questionnaires and their items: each question, its draft as made, and the reviewed answer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base
from service.knowledge_base.models import utcnow

# Item statuses. "pending": not drafted yet (perhaps claimed by a runner: see lease_owner);
# "failed": drafting this question failed (retried while attempts < job_max_attempts).
PENDING = "pending"
DRAFTED = "drafted"
NO_EVIDENCE = "no_evidence"
ACCEPTED = "accepted"
EDITED = "edited"
REJECTED = "rejected"
NEEDS_EXPERT = "needs_expert"
FAILED = "failed"
APPROVED = (ACCEPTED, EDITED)


class Questionnaire(Base):
    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # the customer's original file, for export
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued | drafting | done | failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # when the customer wants it back
    # The drafting job's lease (service/jobs/lease.py): the runner that holds it renews it while it
    # works; a lease that ran out (or whose process is gone) marks a job to re-queue.
    lease_owner: Mapped[str] = mapped_column(String(200), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    items: Mapped[list[Item]] = relationship(
        back_populates="questionnaire", cascade="all, delete-orphan", order_by="Item.position"
    )


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(300))
    question: Mapped[str] = mapped_column(Text)
    section: Mapped[str] = mapped_column(String(300), default="")  # the sheet's category heading, if any
    language: Mapped[str] = mapped_column(String(8))
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Where the answer goes in the customer's file (0-based columns), for write-back.
    sheet: Mapped[str | None] = mapped_column(String(200), nullable=True)
    row: Mapped[int] = mapped_column(Integer)
    locator: Mapped[str] = mapped_column(String(100))
    answer_col: Mapped[int | None] = mapped_column(Integer, nullable=True)
    choice_col: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes_col: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The draft as the drafter made it; citations travel with it unchanged.
    draft_choice: Mapped[str | None] = mapped_column(String(20), nullable=True)
    draft_answer: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    confidence_source: Mapped[str] = mapped_column(String(300), default="")  # which calibration gave it
    drafter: Mapped[str] = mapped_column(String(30), default="")
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. llm_fallback, needs_translation
    draft_note: Mapped[str] = mapped_column(Text, default="")  # why the draft is as it is (e.g. the LLM's failure)
    # The reviewed answer.
    choice: Mapped[str | None] = mapped_column(String(20), nullable=True)
    answer: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=PENDING, index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # Which process drafted the item, and how many drafts were applied (exactly one in a healthy run).
    drafted_by: Mapped[str] = mapped_column(String(200), default="")
    draft_count: Mapped[int] = mapped_column(Integer, default=0)
    # Drafting claims an item under a lease and counts the attempt; at job_max_attempts it ends failed.
    lease_owner: Mapped[str] = mapped_column(String(200), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="items")

    __mapper_args__ = {"version_id_col": version}  # a stale write fails instead of overwriting
