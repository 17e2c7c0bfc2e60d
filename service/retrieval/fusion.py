"""Reciprocal rank fusion: robust to the two rankings' scores living on different scales."""

from __future__ import annotations

from collections.abc import Mapping


def rrf(rankings: Mapping[str, tuple[float, Mapping[str, int]]], k: int = 60) -> list[tuple[str, float]]:
    """rankings: name -> (weight, {id: rank from 1}). Returns (id, score), best first.

    Ties are broken by id, so the same query always returns the same order.
    """
    scores: dict[str, float] = {}
    for weight, ranks in rankings.values():
        if weight <= 0:
            continue
        for entry_id, rank in ranks.items():
            scores[entry_id] = scores.get(entry_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
