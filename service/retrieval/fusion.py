"""Reciprocal rank fusion: robust to the two rankings' scores living on different scales."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def rrf(rankings: Mapping[str, tuple[float, Sequence[str]]], k: int = 60) -> list[tuple[str, float]]:
    """rankings: name -> (weight, ids best first). Returns (id, score), best first.

    Ties are broken by id, so the same query always returns the same order.
    """
    scores: dict[str, float] = {}
    for weight, ids in rankings.values():
        if weight <= 0:
            continue
        for rank, entry_id in enumerate(ids, start=1):
            scores[entry_id] = scores.get(entry_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
