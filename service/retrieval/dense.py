"""Dense rankings: one per vector view searched for a query."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.embeddings import VectorView
from service.vector_store import VectorIndex


@dataclass
class DenseRanking:
    view: str
    query: list[float]  # the query's vector in this view
    ranks: dict[str, int] = field(default_factory=dict)  # entry id -> rank from 1
    similarity: dict[str, float] = field(default_factory=dict)  # entry id -> cosine
    language: dict[str, str] = field(default_factory=dict)  # entry id -> the entry's language


def main_view(views: list[VectorView]) -> VectorView:
    """The view whose cosine a hit reports as `dense_similarity`: the first e5 view searched.

    The drafting confidence maps that cosine to 0..1 on ranges measured for e5; USE cosines live
    on another scale.
    """
    return next((v for v in views if v.family == "e5"), views[0])


def dense_rankings(
    vectors: VectorIndex,
    workspace: str,
    views: list[VectorView],
    text: str,
    pool: int,
    hidden: frozenset[str] = frozenset(),
) -> list[DenseRanking]:
    """`hidden`: entries the caller must not see (a held-out sheet). The index is asked for that
    many more and they are dropped before ranking, so they neither take the pool's places nor push
    the visible entries' ranks down: a view hiding a sheet ranks like a workspace without it."""
    rankings: list[DenseRanking] = []
    # e5 and e5_sym encode the query alike: it is embedded once per model.
    query_vectors: dict[int, list[float]] = {}
    for view in views:
        model = id(view.model)
        if model not in query_vectors:
            query_vectors[model] = view.embed_query(text)
        ranking = DenseRanking(view.name, query_vectors[model])
        found = vectors.query(workspace, ranking.query, pool + len(hidden), view=view.name)
        visible = [hit for hit in found if hit.entry_id not in hidden][:pool]
        for rank, hit in enumerate(visible, start=1):
            ranking.ranks[hit.entry_id] = rank
            ranking.similarity[hit.entry_id] = hit.similarity
            ranking.language[hit.entry_id] = hit.language
        rankings.append(ranking)
    return rankings
