"""A tiny deterministic stand-in model: character bigrams hashed into a fixed number of signed
buckets. No weights, ~0.1 ms a passage. For benchmarks and tests of the storage path at scale
(`KOTAE_EMBEDDING_BACKEND=hashing`), never for answering questionnaires: it knows no meaning.
"""

from __future__ import annotations

import unicodedata
import zlib

import numpy as np

from service.embeddings.base import KotaeEmbeddings


class HashingEmbeddings(KotaeEmbeddings):
    def __init__(self, dimension: int = 384) -> None:
        self._dimension = dimension

    @property
    def model_id(self) -> str:
        return f"hashing/char-bigram-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _vector(self, text: str) -> np.ndarray:
        norm = unicodedata.normalize("NFKC", text).lower()
        vector = np.zeros(self._dimension, dtype=np.float32)
        grams = [norm[i : i + 2] for i in range(max(len(norm) - 1, 1))]
        if grams:
            hashes = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint32, count=len(grams))
            signs = np.where(hashes & 0x80000000, -1.0, 1.0).astype(np.float32)
            np.add.at(vector, hashes % self._dimension, signs)
        length = float(np.linalg.norm(vector))
        return vector / length if length else vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text).tolist()
