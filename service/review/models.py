"""Review conversation on an item, and the bulk accepts a reviewer may still undo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base
from service.knowledge_base.models import utcnow


class ItemComment(Base):
    __tablename__ = "item_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Ids of the workspace members the text @-mentions.
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)


class BulkBatch(Base):
    """One bulk accept: which items it accepted at which resulting version, undoable for a while."""

    __tablename__ = "bulk_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    min_confidence: Mapped[float] = mapped_column(Float)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[item_id, version after accept], ...]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
