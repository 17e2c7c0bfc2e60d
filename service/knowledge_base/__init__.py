"""The knowledge base: past answers stored in the database, indexed for hybrid retrieval.

Public surface:
- `KnowledgeBase(settings)`: the backends (embeddings, vector index, retriever), built lazily;
  `ingest_file`, `sync`, `search` take the caller's session and never commit.
- `Entry`, `Source`, `Workspace` (models) and the functions of `service.knowledge_base.service`.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property
from pathlib import Path

from sqlalchemy.orm import Session

from service.embeddings import KotaeEmbeddings, get_embeddings
from service.ingest import Limits, ParsedDocument, parse_bytes
from service.knowledge_base.corpus import EntryCorpus
from service.knowledge_base.indexing import Progress, SyncResult, sync_vectors
from service.knowledge_base.models import Entry, Source, Workspace
from service.knowledge_base.service import (
    SourceSummary,
    WorkspaceNotFound,
    bump_revision,
    delete_source,
    entries_by_locator,
    entry_id,
    get_or_create_workspace,
    get_workspace,
    list_entries,
    list_sources,
    replace_source,
)
from service.retrieval import Retriever, SearchHit
from service.settings import Settings
from service.vector_store import VectorIndex, get_vector_index

__all__ = [
    "Entry",
    "KnowledgeBase",
    "SearchHit",
    "Source",
    "SourceSummary",
    "SyncResult",
    "Workspace",
    "WorkspaceNotFound",
    "bump_revision",
    "delete_source",
    "entry_id",
    "entries_by_locator",
    "get_or_create_workspace",
    "get_workspace",
    "list_entries",
    "list_sources",
]


class KnowledgeBase:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._hidden: frozenset[str] = frozenset()
        self._sync_locks: dict[str, threading.Lock] = {}

    def with_settings(self, settings: Settings) -> KnowledgeBase:
        """The same stores under other retrieval or drafting settings (eval, tuning); models are not reloaded."""
        other = KnowledgeBase(settings)
        other.__dict__["embeddings"] = self.embeddings
        other.__dict__["vectors"] = self.vectors
        other._hidden = self._hidden
        return other

    def excluding(self, entry_ids: set[str] | frozenset[str]) -> KnowledgeBase:
        """A read-only view whose searches never see these entries (a held-out sheet); nothing is changed."""
        other = self.with_settings(self.settings)
        other._hidden = frozenset(entry_ids) | self._hidden
        return other

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    @cached_property
    def embeddings(self) -> KotaeEmbeddings:
        return get_embeddings(self.settings)

    @cached_property
    def vectors(self) -> VectorIndex:
        """Every vector view the settings name (service/embeddings/views.py), one collection each."""
        return get_vector_index(self.settings, self.embeddings)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.settings, self.embeddings, self.vectors, EntryCorpus(self._hidden))

    def parse(self, name: str, data: bytes) -> ParsedDocument:
        return parse_bytes(name, data, self.limits)

    def ingest_bytes(
        self, session: Session, workspace: str, name: str, data: bytes, product: str | None = None
    ) -> SourceSummary:
        """Parse and store one file (replacing an earlier version of it). Raises IngestError."""
        doc = self.parse(name, data)
        ws = get_or_create_workspace(session, workspace)
        return replace_source(session, ws, doc, data_sha256=hashlib.sha256(data).hexdigest(), product=product)

    def ingest_file(self, session: Session, workspace: str, path: Path, product: str | None = None) -> SourceSummary:
        return self.ingest_bytes(session, workspace, path.name, path.read_bytes(), product)

    def sync(self, session: Session, workspace: str, progress: Progress | None = None) -> SyncResult:
        """Bring the vector index in step with the stored entries (after the entries commit)."""
        with self._sync_locks.setdefault(workspace, threading.Lock()):
            return sync_vectors(session, get_workspace(session, workspace), self.vectors, progress)

    def search(
        self, session: Session, workspace: str, text: str, k: int = 5, product: str | None = None
    ) -> list[SearchHit]:
        return self.retriever.search(session, workspace, text, k=k, product=product)
