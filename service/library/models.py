"""Library tables: the canonical answer of a cluster, with its owner and review-by date.

The rows it superseded are `service.knowledge_base.models.SupersededEntry` (retrieval reads
them, and the knowledge base must not depend on the library).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.knowledge_base.models import utcnow


class CanonicalAnswer(Base):
    """One current answer for one control (and product): the entry drafting should cite."""

    __tablename__ = "canonical_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    # The entry that speaks for the cluster: a promoted row, or one written in the library.
    # Not a foreign key: entry ids survive re-ingest, rows do not.
    entry_id: Mapped[str] = mapped_column(String(32), index=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    owner: Mapped[str] = mapped_column(String(320), default="")
    review_by: Mapped[date] = mapped_column(Date)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
