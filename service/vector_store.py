"""The vector index: Chroma on disk (default) or a Chroma server, chosen here only.

Each vector view (service/embeddings/views.py) of a workspace is its own collection. Vectors are
computed by our own models and passed in explicitly, and queries use `query_embeddings=`, because
a view may embed queries and passages differently. Each collection still carries our embedding
function so that Chroma never loads its default model.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.api.types import Embeddings as ChromaEmbeddings
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from service.embeddings import KotaeEmbeddings, VectorView, get_views
from service.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)


class KotaeChromaFunction(EmbeddingFunction[Documents]):
    """Adapts one of our views to Chroma's interface (passages in, vectors out)."""

    def __init__(self, view: VectorView | None = None, model_id: str = "") -> None:
        self._view = view
        self._model_id = view.key if view is not None else model_id

    def __call__(self, input: Documents) -> ChromaEmbeddings:  # noqa: A002 - Chroma's parameter name
        if self._view is None:
            raise RuntimeError("Kotae computes vectors itself; this collection has no model attached")
        return [np.asarray(v, dtype=np.float32) for v in self._view.embed_passages(list(input))]

    def embed_query(self, input: Documents) -> ChromaEmbeddings:  # noqa: A002
        if self._view is None:
            raise RuntimeError("Kotae computes vectors itself; this collection has no model attached")
        return [np.asarray(self._view.embed_query(t), dtype=np.float32) for t in input]

    @staticmethod
    def name() -> str:
        return "kotae"

    def get_config(self) -> dict[str, Any]:
        return {"model_id": self._model_id}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> KotaeChromaFunction:
        return KotaeChromaFunction(model_id=str(config.get("model_id", "")))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"


@dataclass(frozen=True)
class VectorHit:
    entry_id: str
    similarity: float
    language: str = ""


# Chroma turns an id list into one SQL statement, and SQLite fails past 32,766 variables:
# every call that passes ids, and every read of a whole collection, goes in pages of this size.
CHROMA_ID_PAGE = 5000


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive pages of at most `size` items."""
    if size < 1:
        raise ValueError("page size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


class VectorIndex:
    """One Chroma collection per (workspace, view); views sharing a key share a collection."""

    def __init__(
        self,
        client: Any,
        views: Mapping[str, VectorView],
        remember: bool = False,
        reopen: Callable[[], Any] | None = None,
    ) -> None:
        if not views:
            raise ValueError("a vector index needs at least one view")
        self._client = client
        # On-disk Chroma loads a collection's HNSW graph once per process and never sees vectors
        # another process adds after that: `refresh` opens the folder anew. A server needs none.
        self._reopen = reopen
        # Workspace -> the revision this client's view is known to reflect (set by the caller
        # after a refresh); a search at another revision refreshes first.
        self.revisions: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self.views: dict[str, VectorView] = dict(views)
        # On-disk Chroma is owned by this process: what it holds can be remembered instead of re-read
        # on every sync. A shared Chroma server is always asked.
        self._remember = remember
        self._held: dict[tuple[str, str], dict[str, str]] = {}
        self._collections: dict[tuple[str, str], Any] = {}

    @property
    def local(self) -> bool:
        """True for on-disk Chroma, whose view of other processes' writes can lag."""
        return self._reopen is not None

    def refresh(self) -> None:
        """Reopen on-disk Chroma so that vectors written by other processes are searched too.

        Chroma shares one system per folder within a process; it is dropped from that registry
        (not stopped: a search in another thread may still be using it) and opened again.
        """
        if self._reopen is None:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        identifier = getattr(self._client, "_identifier", None)
        with SharedSystemClient._refcount_lock:
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)
        self._client = self._reopen()
        self._collections.clear()
        self._held.clear()
        self.counts["refreshes"] += 1
        log.info("on-disk vector index reopened to see other processes' writes")

    def _key(self, view: str) -> str:
        if view not in self.views:
            raise KeyError(f"the index keeps no view {view!r} (it keeps {', '.join(self.views)})")
        return self.views[view].key

    def collection_name(self, workspace: str, view: str = "e5") -> str:
        digest = hashlib.sha256(f"{workspace}\x00{self._key(view)}".encode()).hexdigest()[:16]
        return f"kotae-kb-{digest}"

    def _collection(self, workspace: str, view: str) -> Any:
        slot = (workspace, self._key(view))
        if slot in self._collections:
            return self._collections[slot]
        collection = self._client.get_or_create_collection(
            name=self.collection_name(workspace, view),
            embedding_function=KotaeChromaFunction(self.views[view]),
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"workspace": workspace, "model": self._key(view)},
        )
        if self._remember:
            self._collections[slot] = collection
        return collection

    def _held_in(self, workspace: str, view: str) -> dict[str, str]:
        slot = (workspace, self._key(view))
        if self._remember and slot in self._held:
            return self._held[slot]
        collection = self._collection(workspace, view)
        held: dict[str, str] = {}
        offset = 0
        while True:
            got = collection.get(include=["metadatas"], limit=CHROMA_ID_PAGE, offset=offset)
            metadatas = got["metadatas"] or []
            held.update(
                (i, str((m or {}).get("content_hash", ""))) for i, m in zip(got["ids"], metadatas, strict=False)
            )
            if len(got["ids"]) < CHROMA_ID_PAGE:
                break
            offset += CHROMA_ID_PAGE
        if self._remember:
            self._held[slot] = held
        return held

    def indexed(self, workspace: str, view: str | None = None) -> dict[str, str]:
        """entry id -> content hash of what one view holds; without a view, the entries every view
        holds at the same hash (what the index as a whole has in step)."""
        if view is not None:
            return dict(self._held_in(workspace, view))
        names = list(self.views)
        common = dict(self._held_in(workspace, names[0]))
        for name in names[1:]:
            other = self._held_in(workspace, name)
            common = {i: h for i, h in common.items() if other.get(i) == h}
        return common

    def upsert(
        self,
        workspace: str,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, str | int | float | bool]],
        *,
        view: str,
    ) -> None:
        if not ids:
            return
        collection = self._collection(workspace, view)
        for start in range(0, len(ids), CHROMA_ID_PAGE):
            end = start + CHROMA_ID_PAGE
            collection.upsert(
                ids=list(ids[start:end]),
                embeddings=[np.asarray(v, dtype=np.float32) for v in vectors[start:end]],
                metadatas=list(metadatas[start:end]),
            )
        slot = (workspace, self._key(view))
        if slot in self._held:
            self._held[slot].update({i: str(m.get("content_hash", "")) for i, m in zip(ids, metadatas, strict=True)})

    def delete(self, workspace: str, ids: Sequence[str], *, view: str | None = None) -> None:
        """Remove entries from one view, or from every view."""
        if not ids:
            return
        for name in [view] if view is not None else self.distinct_views():
            collection = self._collection(workspace, name)
            for page in chunked(list(ids), CHROMA_ID_PAGE):
                collection.delete(ids=list(page))
            held = self._held.get((workspace, self._key(name)), {})
            for i in ids:
                held.pop(i, None)

    def query(self, workspace: str, vector: Sequence[float], n: int, *, view: str = "e5") -> list[VectorHit]:
        collection = self._collection(workspace, view)
        # No count() first (a call as dear as the query itself at 100k): Chroma answers an empty
        # collection, or one smaller than n, with what it holds.
        got = collection.query(query_embeddings=[list(vector)], n_results=n, include=["distances", "metadatas"])
        return [
            VectorHit(entry_id, 1.0 - float(distance), str((meta or {}).get("language", "")))
            for entry_id, distance, meta in zip(got["ids"][0], got["distances"][0], got["metadatas"][0], strict=True)
        ]

    def similarities(
        self, workspace: str, vector: Sequence[float], ids: Sequence[str], *, view: str
    ) -> dict[str, float]:
        """Exact cosine of `vector` with the stored vectors of `ids` (those outside a query's pool)."""
        if not ids:
            return {}
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        out: dict[str, float] = {}
        collection = self._collection(workspace, view)
        for page in chunked(list(ids), CHROMA_ID_PAGE):
            got = collection.get(ids=list(page), include=["embeddings"])
            stored = got["embeddings"]
            if stored is None or len(got["ids"]) == 0:
                continue
            matrix = np.asarray(stored, dtype=np.float32)
            norms = np.linalg.norm(matrix, axis=1)
            norms[norms == 0] = 1.0
            out.update(zip(got["ids"], (matrix @ query / norms).tolist(), strict=True))
        return out

    def distinct_views(self) -> list[str]:
        """One view name per collection key."""
        first: dict[str, str] = {}
        for name, view in self.views.items():
            first.setdefault(view.key, name)
        return list(first.values())

    def drop(self, workspace: str) -> None:
        """Delete every view's collection of a workspace (`kotae kb reindex` then syncs them anew)."""
        for name in self.distinct_views():
            slot = (workspace, self._key(name))
            self._held.pop(slot, None)
            self._collections.pop(slot, None)
            with contextlib.suppress(NotFoundError):  # never synced, or dropped already
                self._client.delete_collection(self.collection_name(workspace, name))


def get_vector_index(
    settings: Settings, embeddings: KotaeEmbeddings, views: Mapping[str, VectorView] | None = None
) -> VectorIndex:
    """The index of the given views (default: every view the settings name, over `embeddings`)."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    reopen: Callable[[], Any] | None = None
    match settings.vector_store:
        case "chroma_local":
            path = settings.resolved_chroma_path
            path.mkdir(parents=True, exist_ok=True)

            def reopen() -> Any:
                return chromadb.PersistentClient(path=str(path), settings=chroma_settings)

            client = reopen()
        case "chroma_http":
            if not settings.chroma_url:
                raise ValueError("KOTAE_CHROMA_URL is required when KOTAE_VECTOR_STORE=chroma_http")
            from urllib.parse import urlparse

            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        case other:
            raise ValueError(f"unknown vector store {other!r}")
    chosen = views if views is not None else get_views(settings, embeddings)
    return VectorIndex(client, chosen, remember=settings.vector_store == "chroma_local", reopen=reopen)
