"""The knowledge base: past answers stored in the database, indexed for hybrid retrieval.

Public surface:
- `KnowledgeBase(settings)`: the backends (embeddings, vector index, retriever), built lazily;
  `ingest_file`, `sync`, `search` take the caller's session and never commit. `search` first
  checks the workspace revision and reopens on-disk Chroma when another process wrote since
  (`refresh_if_stale`); `lexical_store` is the persisted BM25 index (service.retrieval).
- `Entry`, `Source`, `Workspace` (models) and the functions of `service.knowledge_base.service`.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.knowledge_base.models import Entry, Source, Workspace
from service.knowledge_base.service import (
    SourceContents,
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
    source_contents,
)
from service.settings import Settings

# The backends (embedding models, Chroma, BM25, the parsers) are imported when first used, not
# here: `kotae kb stats` and the web app's light pages only need the tables.
if TYPE_CHECKING:
    from service.embeddings import KotaeEmbeddings
    from service.ingest import Limits, ParsedDocument
    from service.knowledge_base.indexing import Progress, SyncResult
    from service.retrieval import LexicalStore, Retriever, SearchHit
    from service.vector_store import VectorIndex

__all__ = [
    "SourceContents",
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
    "source_contents",
]


def __getattr__(name: str) -> Any:
    """`SearchHit` and `SyncResult` load with the retrieval and indexing code they belong to."""
    if name == "SearchHit":
        from service.retrieval import SearchHit

        return SearchHit
    if name == "SyncResult":
        from service.knowledge_base.indexing import SyncResult

        return SyncResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class KnowledgeBase:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._hidden: frozenset[str] = frozenset()
        self._sync_locks: dict[str, threading.Lock] = {}
        self._refresh_lock = threading.Lock()

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
        from service.ingest import Limits

        return Limits.from_settings(self.settings)

    @cached_property
    def embeddings(self) -> KotaeEmbeddings:
        from service.embeddings import get_embeddings

        return get_embeddings(self.settings)

    @cached_property
    def vectors(self) -> VectorIndex:
        """Every vector view the settings name (service/embeddings/views.py), one collection each."""
        from service.vector_store import get_vector_index

        return get_vector_index(self.settings, self.embeddings)

    @cached_property
    def retriever(self) -> Retriever:
        from service.knowledge_base.corpus import EntryCorpus
        from service.retrieval import Retriever

        return Retriever(
            self.settings, self.embeddings, self.vectors, EntryCorpus(self._hidden), lexical=self.lexical_store
        )

    def parse(self, name: str, data: bytes) -> ParsedDocument:
        from service.ingest import parse_bytes

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
        from service.knowledge_base.indexing import sync_vectors

        with self._sync_locks.setdefault(workspace, threading.Lock()):
            ws = get_workspace(session, workspace)
            revision = ws.revision  # read before the entries: the index holds at least this revision after
            result = sync_vectors(session, ws, self.vectors, progress)
            # This client wrote (or saw) every vector of `revision` itself: the next search has no
            # need to reopen on-disk Chroma, which would reload its graph and forget what it holds.
            with self._refresh_lock:
                if self.vectors.revisions.get(workspace, -1) < revision:
                    self.vectors.revisions[workspace] = revision
            return result

    @cached_property
    def lexical_store(self) -> LexicalStore:
        """The persisted BM25 indexes, one folder per database (a held-out view keeps its own in memory)."""
        from service.retrieval import LexicalStore

        if self._hidden:
            return LexicalStore(None)
        url = hashlib.sha256(self.settings.resolved_database_url.encode()).hexdigest()[:12]
        return LexicalStore(self.settings.home_dir / "lexical" / url)

    def refresh_if_stale(self, session: Session, workspace: str) -> bool:
        """Make the next search see what other processes wrote (a `kotae ingest` beside a server).

        One cheap query: the workspace's revision. When the vector client's view is not known to
        be at that revision, on-disk Chroma is reopened (the lexical index follows the revision
        by itself). Returns whether it reopened.
        """
        revision = session.scalar(select(Workspace.revision).where(Workspace.name == workspace))
        vectors = self.vectors
        if revision is None or vectors.revisions.get(workspace) == revision:
            return False
        with self._refresh_lock:
            if vectors.revisions.get(workspace) == revision:
                return False
            vectors.refresh()
            vectors.revisions[workspace] = revision
        return vectors.local

    def search(
        self, session: Session, workspace: str, text: str, k: int = 5, product: str | None = None
    ) -> list[SearchHit]:
        self.refresh_if_stale(session, workspace)
        return self.retriever.search(session, workspace, text, k=k, product=product)
