from __future__ import annotations

from abc import abstractmethod

from langchain_core.embeddings import Embeddings


class KotaeEmbeddings(Embeddings):
    """LangChain embeddings that also say which model made them.

    `embed_documents` encodes passages and `embed_query` / `embed_queries` encode queries; for
    asymmetric models (e5) the two differ, and a symmetric view stores passages encoded as queries.
    """

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Stable name of the model and its settings, used as the embedding cache key."""

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @property
    def asymmetric(self) -> bool:
        """True when queries and passages are encoded differently (e5's prefixes)."""
        return False

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Many texts in the query encoding; backends that can batch override this."""
        return [self.embed_query(t) for t in texts]
