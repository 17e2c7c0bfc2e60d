"""A holdout eval started from the web or the API, stored so a reload, another tab or a restart sees it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.knowledge_base.models import utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
OPEN_RUN = (QUEUED, RUNNING)  # statuses of an unfinished run


class HoldoutRecord(Base):
    __tablename__ = "holdout_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=QUEUED)
    sources: Mapped[list[str]] = mapped_column(JSON)  # the names held out in turn, resolved when started
    all_sources: Mapped[bool] = mapped_column(Boolean, default=False)
    calibrate: Mapped[bool] = mapped_column(Boolean, default=False)  # keep a workspace calibration when done
    total: Mapped[int] = mapped_column(Integer, default=0)  # questions to draft, over every source
    done: Mapped[int] = mapped_column(Integer, default=0)  # questions drafted so far (one atomic UPDATE each)
    current: Mapped[str] = mapped_column(String(500), default="")  # the source being held out now
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the documented --json shape
    error: Mapped[str] = mapped_column(Text, default="")
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The last progress: touched on every question drafted.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The job's lease (service/jobs/lease.py): its runner's heartbeat renews it; a run whose lease ran
    # out (or whose process is gone) is taken again by the recovery sweep, at most job_max_attempts times.
    lease_owner: Mapped[str] = mapped_column(String(200), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
