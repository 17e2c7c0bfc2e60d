"""Placing a row's cells under the header's columns when an export dropped merged cells.

Exports drop merged cells, so a row can arrive shifted left with its trailing cells empty; every
order-keeping placement is scored against what the table's complete rows look like, and the
best kept.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from service.ingest.choices import normalize_choice
from service.ingest.columns import Role
from service.ingest.layout import Layout, Row, is_id

_MAX_ALIGN_WIDTH = 12
_MAX_ALIGN_GAP = 3


@dataclass
class ColumnStats:
    median_len: dict[int, float]
    unit_vocab: dict[int, set[str]]


def column_stats(layout: Layout, rows: Sequence[Row]) -> ColumnStats:
    complete = [cells for _, cells in rows if last_filled(cells) == layout.width - 1]
    median_len: dict[int, float] = {}
    unit_vocab: dict[int, set[str]] = {}
    for col in layout.columns:
        values = [cells[col.index] for cells in complete if cells[col.index]]
        if values:
            median_len[col.index] = statistics.median(len(v) for v in values)
        if col.role is Role.UNIT:
            unit_vocab[col.index] = set(values)
    return ColumnStats(median_len, unit_vocab)


def signature(layout: Layout) -> tuple[str, ...]:
    return tuple(f"{c.role}:{c.label}" for c in layout.columns)


def last_filled(cells: Sequence[str]) -> int:
    for i in range(len(cells) - 1, -1, -1):
        if cells[i]:
            return i
    return -1


def _placement_cost(layout: Layout, stats: ColumnStats, placed: dict[int, str], shift: int) -> float:
    cost = 0.05 * shift
    labelled = [c for c in layout.columns if c.role is Role.QUESTION and not c.span]
    if len(labelled) > 1 and not placed.get(labelled[-1].index):
        cost += 1.0  # the main question column ("規程内容") is rarely the one left blank
    ids = [c.index for c in layout.columns if c.role is Role.ID]
    if len(ids) > 1 and not placed.get(ids[-1]) and any(placed.get(i) for i in ids[:-1]):
        cost += 0.5  # an item's own number belongs in the most specific number column
    question = False
    answers = 0
    for col in layout.columns:
        value = placed.get(col.index, "")
        role = col.role
        if role is Role.QUESTION and value:
            question = True
        if role is Role.ANSWER and value:
            answers += 1
        if role is Role.CHOICE and value:
            answers += 1
        if not value:
            if role is Role.ID:
                cost += 0.2
            elif role is Role.UNIT:
                cost += 0.5
            elif role is Role.ANSWER and layout.products:
                cost += 0.7
            continue
        if role is Role.ID:
            cost += 0 if is_id(value) else 4
            continue
        if role is Role.CHOICE:
            cost += 0 if normalize_choice(value) else 2
            continue
        if role is Role.QUESTION and is_id(value):
            cost += 3  # a bare number is an item number, not question text
        if role is Role.CATEGORY and shift:
            # Exports drop merged category cells first: a shifted row rarely keeps its category.
            cost += 0.6
        if role is Role.UNIT:
            vocab = stats.unit_vocab.get(col.index, set())
            cost += 0 if value in vocab else (0.5 if len(value) <= 12 else 3)
            continue
        if role in (Role.CATEGORY, Role.QUESTION, Role.ANSWER):
            median = stats.median_len.get(col.index)
            if median is not None:
                cost += 0.6 * abs(math.log1p(len(value)) - math.log1p(median))
    if not question:
        cost += 3
    if not answers:
        cost += 2
    return cost


def align(layout: Layout, stats: ColumnStats, cells: Sequence[str]) -> dict[int, str]:
    """Place a row's cells under the header's columns.

    A row whose trailing cells are empty may have lost merged cells on the way (exports drop
    them, shifting the rest left); every order-keeping placement is scored and the best kept.
    """
    width = layout.width
    last = last_filled(cells)
    natural = {i: cells[i] for i in range(min(width, len(cells)))}
    if last >= width - 1 or last < 0 or width > _MAX_ALIGN_WIDTH or width - (last + 1) > _MAX_ALIGN_GAP:
        return natural
    if not stats.median_len:
        return natural  # no complete row to learn from: an unanswered questionnaire, rows are as they look
    values = list(cells[: last + 1])
    best = natural
    best_cost = _placement_cost(layout, stats, natural, 0)
    for positions in itertools.combinations(range(width), len(values)):
        shift = sum(p - i for i, p in enumerate(positions))
        if shift == 0:
            continue
        placed = dict(zip(positions, values, strict=True))
        cost = _placement_cost(layout, stats, placed, shift)
        if cost < best_cost - 1e-9:
            best, best_cost = placed, cost
    return best
