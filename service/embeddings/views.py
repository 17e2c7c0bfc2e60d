"""Vector views: one model in one encoding, each stored in its own collection and cache rows.

A view is what one dense ranking searches:
- `e5`: the embedding model (`embedding_backend`), passages as "passage: ", queries as "query: ".
  Its key is the bare model id, as before views existed, so existing indexes and caches stay valid.
- `e5_sym`: the same model with passages also in the query encoding ("query: "). Measured on the
  seeds, an English question finds its Japanese counterpart far better query-to-query.
  For a model with one encoding it is the `e5` view itself.
- `e5_sym_q`: like `e5_sym`, over the entry's question alone (shorter text: cheaper to embed).
- `use`: multilingual Universal Sentence Encoder, symmetric by design.

The key (model id + encoding) names the Chroma collection and the embedding-cache rows, so
vectors of different views never mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.embeddings.base import KotaeEmbeddings

ViewName = Literal["e5", "e5_sym", "e5_sym_q", "use"]
VIEW_NAMES: tuple[str, ...] = ("e5", "e5_sym", "e5_sym_q", "use")


@dataclass(frozen=True)
class VectorView:
    name: str
    key: str
    model: KotaeEmbeddings
    symmetric: bool  # passages in the query encoding
    question_only: bool = False  # embeds an entry's question, not its question and answer

    @property
    def family(self) -> str:
        """'e5' for the views of the embedding model, whose cosines the drafting confidence is calibrated on."""
        return "use" if self.name == "use" else "e5"

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed_queries(texts) if self.symmetric else self.model.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


def make_view(name: str, main: KotaeEmbeddings, use: KotaeEmbeddings | None = None) -> VectorView:
    match name:
        case "e5":
            return VectorView("e5", main.model_id, main, symmetric=False)
        case "e5_sym":
            if not main.asymmetric:
                return VectorView("e5_sym", main.model_id, main, symmetric=False)
            return VectorView("e5_sym", f"{main.model_id}#query", main, symmetric=True)
        case "e5_sym_q":
            key = f"{main.model_id}{'#query' if main.asymmetric else ''}#question"
            return VectorView("e5_sym_q", key, main, symmetric=main.asymmetric, question_only=True)
        case "use":
            if use is None:
                from service.embeddings.use_backend import UniversalSentenceEncoder

                use = UniversalSentenceEncoder()
            return VectorView("use", use.model_id, use, symmetric=True)
        case other:
            raise ValueError(f"unknown vector view {other!r}; known: {', '.join(VIEW_NAMES)}")
