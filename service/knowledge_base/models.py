"""Knowledge base tables: the database is the source of truth; vectors are rebuilt from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Bumped on every change to the entries; caches (lexical index) compare it to know they are stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Source(Base):
    """One ingested file within a workspace; re-ingesting the same file name replaces it."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500), default="")
    content_sha256: Mapped[str] = mapped_column(String(64))
    sheet_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    entries: Mapped[list[Entry]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )


class Entry(Base):
    """One prior answer: the unit that retrieval finds and drafts cite."""

    __tablename__ = "entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    sheet: Mapped[str | None] = mapped_column(String(200), nullable=True)
    row: Mapped[int] = mapped_column(Integer)
    locator: Mapped[str] = mapped_column(String(100), index=True)
    section: Mapped[list[str]] = mapped_column(JSON, default=list)
    question: Mapped[str] = mapped_column(Text)
    choice: Mapped[str | None] = mapped_column(String(8), nullable=True)
    choice_raw: Mapped[str] = mapped_column(String(100), default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    sheet_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Hash of the text that is embedded: the vector index is in sync when it holds this hash.
    content_hash: Mapped[str] = mapped_column(String(64))
    # For answers approved in review: questionnaire, item, reviewer, date.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    source: Mapped[Source] = relationship(back_populates="entries")


class EmbeddingCache(Base):
    """Vectors by (model, text hash): re-ingesting unchanged text costs no model call."""

    __tablename__ = "embedding_cache"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class SupersededEntry(Base):
    """An entry a canonical answer of the library replaced: kept for provenance, hidden from retrieval.

    Keyed by the entry id, not a foreign key: entry ids are stable across re-ingests
    (`entry_id`), so re-ingesting a superseded sheet keeps its rows superseded.
    """

    __tablename__ = "superseded_entries"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The migration makes this a foreign key to canonical_answers (ON DELETE CASCADE); the model
    # leaves it out so the knowledge base's metadata needs no library table.
    canonical_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
