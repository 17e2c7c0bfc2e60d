from __future__ import annotations

from abc import abstractmethod

from langchain_core.embeddings import Embeddings


class KotaeEmbeddings(Embeddings):
    """LangChain embeddings that also say which model made them."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Stable name of the model and its settings, used as the embedding cache key."""

    @property
    @abstractmethod
    def dimension(self) -> int: ...
