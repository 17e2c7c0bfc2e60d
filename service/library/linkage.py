"""Complete-linkage grouping of unit vectors, without the whole similarity matrix in memory.

Complete linkage at a floor only ever groups entries that are pairwise at least that close, so
only the pairs above the floor matter. They are found a block of rows at a time (a block x n
slice of the similarities, never n x n), and each entry keeps at most its `per_row` most similar
neighbours above the floor. Linkage then merges the closest pair first over that sparse graph;
a pair that is not kept counts as below the floor. Memory is O(block x n + n x per_row).

Exact while no entry has more than `per_row` neighbours above the floor (then the groups are
those of linking the full matrix, merge for merge: `complete_linkage` is that reference, and
tests compare the two). On the seeds (351 entries) the busiest entry has 124 neighbours above
0.69 and the default keeps 128. Beyond that every group still has all its pairs above the floor;
only which of an entry's many close neighbours end up beside it can change.
"""

from __future__ import annotations

import heapq

import numpy as np

BLOCK_ROWS = 512
PER_ROW = 128


def similarity(vectors: list[np.ndarray], rows: slice | np.ndarray, cols: slice | np.ndarray) -> np.ndarray:
    """Mean cosine over views between the entries `rows` and `cols` (unit vectors per view)."""
    return np.mean([v[rows] @ v[cols].T for v in vectors], axis=0)


def neighbours(
    vectors: list[np.ndarray], floor: float, per_row: int = PER_ROW, block_rows: int = BLOCK_ROWS
) -> list[dict[int, float]]:
    """For each entry, its most similar others at or above `floor` (at most `per_row`; symmetric)."""
    n = len(vectors[0])
    found: list[dict[int, float]] = [{} for _ in range(n)]
    for start in range(0, n, block_rows):
        block = similarity(vectors, slice(start, min(start + block_rows, n)), slice(0, n)).astype(np.float64)
        for offset, row in enumerate(block):
            i = start + offset
            row[i] = -np.inf
            above = np.flatnonzero(row >= floor)
            if len(above) > per_row:
                above = above[np.argpartition(-row[above], per_row - 1)[:per_row]]
            for j in above.tolist():
                found[i][j] = found[j][i] = float(row[j])
    return found


def sparse_complete_linkage(close: list[dict[int, float]], floor: float) -> list[list[int]]:
    """Complete linkage over the kept pairs, closest pair first (ties: lowest indices first).

    A group's similarity to another is its farthest pair's; a pair not kept is below the floor,
    so two groups stay linkable only while every pair between them is kept.
    """
    close = [dict(row) for row in close]
    heap = [(-s, a, b) for a, row in enumerate(close) for b, s in row.items() if a < b and s >= floor]
    heapq.heapify(heap)
    groups: dict[int, list[int]] = {i: [i] for i in range(len(close))}
    while heap:
        negative, a, b = heapq.heappop(heap)
        if a not in groups or b not in groups or close[a].get(b) != -negative:
            continue  # stale: a group merged since this pair was queued
        # Lance-Williams for complete linkage: the merged group is as close as its farther part.
        merged = {c: min(s, close[b][c]) for c, s in close[a].items() if c != b and c in close[b]}
        for c in close[a]:
            close[c].pop(a, None)
        for c in close[b]:
            close[c].pop(b, None)
        close[a], close[b] = merged, {}
        for c, s in merged.items():
            close[c][a] = s
            heapq.heappush(heap, (-s, min(a, c), max(a, c)))
        groups[a].extend(groups.pop(b))
    return [sorted(g) for g in groups.values()]


def complete_linkage(similarities: np.ndarray, floor: float) -> list[list[int]]:
    """The dense reference: every pair of the full matrix (O(n²) memory, O(n³) time at worst)."""
    n = len(similarities)
    sim = similarities.astype(np.float64, copy=True)
    np.fill_diagonal(sim, -np.inf)
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}
    while len(groups) > 1:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if sim[a, b] < floor:
            break
        merged = np.minimum(sim[a], sim[b])
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        groups[a].extend(groups.pop(b))
    return [sorted(g) for g in groups.values()]


def group(vectors: list[np.ndarray], floor: float, per_row: int = PER_ROW) -> list[list[int]]:
    """Complete-linkage groups of all entries (indices into the vectors)."""
    if not vectors or not len(vectors[0]):
        return []
    return sparse_complete_linkage(neighbours(vectors, floor, per_row), floor)
