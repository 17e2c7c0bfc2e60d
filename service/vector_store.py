"""The vector index: Chroma on disk (default) or a Chroma server, chosen here only.

Vectors are computed by our own embedding model and passed in explicitly, and queries use
`query_embeddings=`, because e5 embeds queries and passages differently. The collection still
carries our embedding function so that Chroma never loads its default model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import chromadb
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.api.types import Embeddings as ChromaEmbeddings
from chromadb.config import Settings as ChromaSettings

from service.embeddings import KotaeEmbeddings
from service.settings import Settings


class KotaeChromaFunction(EmbeddingFunction[Documents]):
    """Adapts our LangChain embeddings to Chroma's interface (passages in, vectors out)."""

    def __init__(self, embeddings: KotaeEmbeddings | None = None, model_id: str = "") -> None:
        self._embeddings = embeddings
        self._model_id = embeddings.model_id if embeddings is not None else model_id

    def __call__(self, input: Documents) -> ChromaEmbeddings:  # noqa: A002 - Chroma's parameter name
        if self._embeddings is None:
            raise RuntimeError("Kotae computes vectors itself; this collection has no model attached")
        import numpy as np

        return [np.asarray(v, dtype=np.float32) for v in self._embeddings.embed_documents(list(input))]

    def embed_query(self, input: Documents) -> ChromaEmbeddings:  # noqa: A002
        if self._embeddings is None:
            raise RuntimeError("Kotae computes vectors itself; this collection has no model attached")
        import numpy as np

        return [np.asarray(self._embeddings.embed_query(t), dtype=np.float32) for t in input]

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


class VectorIndex:
    """One Chroma collection per (workspace, embedding model)."""

    def __init__(self, client: Any, embeddings: KotaeEmbeddings, remember: bool = False) -> None:
        self._client = client
        self._embeddings = embeddings
        self._function = KotaeChromaFunction(embeddings)
        # On-disk Chroma is owned by this process: what it holds can be remembered instead of re-read
        # on every sync. A shared Chroma server is always asked.
        self._remember = remember
        self._held: dict[str, dict[str, str]] = {}
        self._collections: dict[str, Any] = {}

    def collection_name(self, workspace: str) -> str:
        digest = hashlib.sha256(f"{workspace}\x00{self._embeddings.model_id}".encode()).hexdigest()[:16]
        return f"kotae-kb-{digest}"

    def _collection(self, workspace: str) -> Any:
        if workspace in self._collections:
            return self._collections[workspace]
        collection = self._client.get_or_create_collection(
            name=self.collection_name(workspace),
            embedding_function=self._function,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"workspace": workspace, "model": self._embeddings.model_id},
        )
        if self._remember:
            self._collections[workspace] = collection
        return collection

    def indexed(self, workspace: str) -> dict[str, str]:
        """entry id -> content hash of what the index holds."""
        if self._remember and workspace in self._held:
            return dict(self._held[workspace])
        got = self._collection(workspace).get(include=["metadatas"])
        metadatas = got["metadatas"] or []
        held = {i: str((m or {}).get("content_hash", "")) for i, m in zip(got["ids"], metadatas, strict=False)}
        if self._remember:
            self._held[workspace] = dict(held)
        return held

    def upsert(
        self,
        workspace: str,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, str | int | float | bool]],
    ) -> None:
        if ids:
            self._collection(workspace).upsert(
                ids=list(ids), embeddings=[list(v) for v in vectors], metadatas=list(metadatas)
            )
            if workspace in self._held:
                held = self._held[workspace]
                held.update({i: str(m.get("content_hash", "")) for i, m in zip(ids, metadatas, strict=True)})

    def delete(self, workspace: str, ids: Sequence[str]) -> None:
        if ids:
            self._collection(workspace).delete(ids=list(ids))
            for i in ids:
                self._held.get(workspace, {}).pop(i, None)

    def query(self, workspace: str, vector: Sequence[float], n: int) -> list[VectorHit]:
        collection = self._collection(workspace)
        count = collection.count()
        if count == 0:
            return []
        got = collection.query(
            query_embeddings=[list(vector)], n_results=min(n, count), include=["distances", "metadatas"]
        )
        return [
            VectorHit(entry_id, 1.0 - float(distance), str((meta or {}).get("language", "")))
            for entry_id, distance, meta in zip(got["ids"][0], got["distances"][0], got["metadatas"][0], strict=True)
        ]

    def drop(self, workspace: str) -> None:
        name = self.collection_name(workspace)
        self._held.pop(workspace, None)
        self._collections.pop(workspace, None)
        if name in [c.name for c in self._client.list_collections()]:
            self._client.delete_collection(name)


def get_vector_index(settings: Settings, embeddings: KotaeEmbeddings) -> VectorIndex:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    match settings.vector_store:
        case "chroma_local":
            path = settings.resolved_chroma_path
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
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
    return VectorIndex(client, embeddings, remember=settings.vector_store == "chroma_local")
