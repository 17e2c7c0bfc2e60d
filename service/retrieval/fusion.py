"""Reciprocal rank fusion: robust to the rankings' scores living on different scales."""

from __future__ import annotations

from collections.abc import Mapping


def rrf(
    rankings: Mapping[str, tuple[float, Mapping[str, int]]],
    k: int = 60,
    tie_break: Mapping[str, float] | None = None,
) -> list[tuple[str, float]]:
    """rankings: name -> (weight, {id: rank from 1}). Returns (id, score), best first.

    Equal scores are common (ranks 1 and 2 swapped between two rankings): they go to the higher
    `tie_break` value (a dense cosine; ids without one come after), then by id, so the same query
    always returns the same order.
    """
    scores: dict[str, float] = {}
    for weight, ranks in rankings.values():
        if weight <= 0:
            continue
        for entry_id, rank in ranks.items():
            scores[entry_id] = scores.get(entry_id, 0.0) + weight / (k + rank)
    # Scores are sums of floats in different orders: round so that equal rank sums compare equal.
    if tie_break is None:
        return sorted(scores.items(), key=lambda item: (-round(item[1], 12), item[0]))
    return sorted(
        scores.items(), key=lambda item: (-round(item[1], 12), -tie_break.get(item[0], float("-inf")), item[0])
    )
