"""Turning a grid of cells (an Excel sheet, a CSV, a tab or markdown table) into questionnaire items.

Real sheets are messy, and this module is where the mess is absorbed:
- the header row sits anywhere, its labels may span several columns (merged cells), and a
  second header row may name one answer column per product;
- section rows ("1 情報セキュリティ基本方針", "<b>アクセス制御</b>") sit between data rows;
- exports drop merged cells, so a row can arrive shifted left with its trailing cells empty:
  such rows are aligned to the header by choosing the placement that fits the columns best;
- merged category/label cells appear only on the first row of their group and are carried down.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from service.ingest.choices import leading_choice, normalize_choice
from service.ingest.columns import Role, header_key, header_role, product_from_header
from service.ingest.model import CellRef, ParsedItem, SkippedRow
from service.ingest.text import detect_language, labelled_date

Row = tuple[int, list[str]]  # (1-based physical row, cleaned cells)

_ID_VALUE = re.compile(r"^[A-Za-z]{0,4}[-.]?\d{1,4}(?:[.\-‐－]\d{1,4}){0,3}[.．]?$")
_NUMBERED_TITLE = re.compile(r"^(\d{1,3}(?:[.．]\d{1,3}){0,3})[.．)）]?[\s\u3000]+(\S.*)$")
_LEADING_ID = re.compile(r"^(\d{1,3}(?:[.\-]\d{1,3}){0,3})[\s\u3000]+(\S.+)$")
_NO_STYLE = {"no", "no.", "no.#", "#", "number", "通番", "連番"}
_MAX_ALIGN_WIDTH = 12
_MAX_ALIGN_GAP = 3


@dataclass
class Column:
    index: int
    role: Role
    label: str = ""
    product: str | None = None
    span: bool = False  # continues the merged header label of the column before it


@dataclass
class Layout:
    header_row: int
    columns: list[Column]
    title: str = ""
    products: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.columns)

    def cols(self, role: Role) -> list[int]:
        return [c.index for c in self.columns if c.role is role]

    @property
    def id_style(self) -> str:
        ids = self.cols(Role.ID)
        if ids and header_key(self.columns[ids[-1]].label) in _NO_STYLE:
            return "no"
        return "plain"


@dataclass
class Table:
    layout: Layout
    rows: list[Row] = field(default_factory=list)


@dataclass
class GridResult:
    items: list[ParsedItem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    tables: int = 0


def _is_id(value: str) -> bool:
    return bool(_ID_VALUE.match(value))


# --------------------------------------------------------------------------- header


def _header_roles(cells: Sequence[str]) -> list[Role | None] | None:
    """Roles named by a row, or None when the row does not read as a header."""
    nonempty = [c for c in cells if c]
    if not nonempty or any(len(c) > 40 or "\n" in c for c in nonempty):
        return None
    roles = [header_role(c) if c else None for c in cells]
    known = [r for c, r in zip(cells, roles, strict=True) if c and r is not None]
    content = {Role.QUESTION, Role.ANSWER, Role.CHOICE, Role.NOTES}
    if not content.intersection(known):
        return None
    if len(known) >= 2:
        return roles
    # A lone known label ("サービス基本特性 | 詳細") still heads a table when the row is short.
    if len(nonempty) <= 3 and not _is_id(nonempty[0]) and known == [Role.ANSWER]:
        return roles
    return None


def _build_layout(header: Row, following: Sequence[Row]) -> tuple[Layout, bool] | None:
    rownum, cells = header
    roles = _header_roles(cells)
    if roles is None:
        return None
    columns: list[Column] = []
    span_role: Role | None = None
    span_label = ""
    unknown: set[int] = set()
    for i, (cell, role) in enumerate(zip(cells, roles, strict=True)):
        if cell:
            span_label = cell
            if role is None:
                unknown.add(i)
                span_role = None
                columns.append(Column(i, Role.OTHER, cell))
            else:
                span_role = role if role in (Role.QUESTION, Role.ANSWER) else None
                columns.append(Column(i, role, cell))
        elif span_role is not None:
            columns.append(Column(i, span_role, span_label, span=True))
        elif i - 1 in unknown:  # an unlabelled cell after an unknown label continues its span
            unknown.add(i)
            columns.append(Column(i, Role.OTHER, span_label))
        else:
            columns.append(Column(i, Role.OTHER, ""))
    layout = Layout(rownum, columns)

    if not layout.cols(Role.ANSWER) and not layout.cols(Role.CHOICE):
        notes = layout.cols(Role.NOTES)
        questions = layout.cols(Role.QUESTION)
        after = [i for i in sorted(unknown) if questions and i > max(questions) and cells[i]]
        if notes:  # e.g. "確認事項 | 備考": the remarks column is where the answers are
            columns[notes[0]].role = Role.ANSWER
        elif len(after) >= 2:
            # "項目 | 内容 | StarDesk | StarMail": one answer column per product, named by its header.
            run = [after[-1]]
            for i in reversed(after[:-1]):
                if i == run[0] - 1:
                    run.insert(0, i)
            for i in after:
                if i in run:
                    columns[i].role = Role.ANSWER
                    columns[i].product = cells[i]
                else:
                    columns[i].role = Role.QUESTION
            unknown.difference_update(after)
            layout.products = [cells[i] for i in run]
        elif len(after) == 1:
            columns[after[0]].role = Role.ANSWER
            unknown.discard(after[0])
    answer_cols = layout.cols(Role.ANSWER)
    if not layout.cols(Role.QUESTION):
        # Unlabelled columns before the answers hold the question ("サービス基本特性" spanning 4 columns).
        first_answer = min(answer_cols + layout.cols(Role.CHOICE) or [layout.width])
        candidates = [i for i in unknown if i < first_answer]
        if not candidates:
            return None
        layout.title = cells[min(candidates)]
        for i in sorted(candidates):
            columns[i].role = Role.QUESTION
        lead = min(candidates)
        data = [r for _, r in following[:8] if any(r)]
        if data and sum(1 for r in data if lead < len(r) and _is_id(r[lead])) >= max(1, len(data) // 2):
            columns[lead].role = Role.ID
            columns[lead].label = "No"
    if not layout.cols(Role.QUESTION) or not (layout.cols(Role.ANSWER) or layout.cols(Role.CHOICE)):
        return None

    consumed = False
    answer_cols = layout.cols(Role.ANSWER)
    if len(answer_cols) > 1:
        products = {c: product_from_header(columns[c].label) for c in answer_cols}
        if following:
            _, sub = following[0]
            inside = [i for i, v in enumerate(sub) if v]
            if inside and all(i in answer_cols for i in inside) and len(inside) >= 2:
                products = {c: (sub[c] if c < len(sub) and sub[c] else None) for c in answer_cols}
                consumed = True
        if all(products.values()):
            for c in answer_cols:
                columns[c].product = products[c]
            layout.products = [p for p in products.values() if p]
    return layout, consumed


def split_tables(grid: Sequence[Row]) -> tuple[list[str], list[Table]]:
    """Find header rows and the data rows under each; rows before any header are preamble."""
    preamble: list[str] = []
    tables: list[Table] = []
    skip_next = False
    for pos, row in enumerate(grid):
        if skip_next:
            skip_next = False
            continue
        _, cells = row
        if not any(cells):
            continue
        built = _build_layout(row, grid[pos + 1 : pos + 9])
        if built is not None:
            layout, consumed = built
            tables.append(Table(layout))
            skip_next = consumed
            continue
        if tables:
            tables[-1].rows.append(row)
        else:
            preamble.append(" ".join(c for c in cells if c))
    return preamble, tables


# --------------------------------------------------------------------------- alignment


@dataclass
class _Stats:
    median_len: dict[int, float]
    unit_vocab: dict[int, set[str]]


def _column_stats(layout: Layout, rows: Sequence[Row]) -> _Stats:
    complete = [cells for _, cells in rows if _last_filled(cells) == layout.width - 1]
    median_len: dict[int, float] = {}
    unit_vocab: dict[int, set[str]] = {}
    for col in layout.columns:
        values = [cells[col.index] for cells in complete if cells[col.index]]
        if values:
            median_len[col.index] = statistics.median(len(v) for v in values)
        if col.role is Role.UNIT:
            unit_vocab[col.index] = set(values)
    return _Stats(median_len, unit_vocab)


def _signature(layout: Layout) -> tuple[str, ...]:
    return tuple(f"{c.role}:{c.label}" for c in layout.columns)


def _last_filled(cells: Sequence[str]) -> int:
    for i in range(len(cells) - 1, -1, -1):
        if cells[i]:
            return i
    return -1


def _placement_cost(layout: Layout, stats: _Stats, placed: dict[int, str], shift: int) -> float:
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
            cost += 0 if _is_id(value) else 4
            continue
        if role is Role.CHOICE:
            cost += 0 if normalize_choice(value) else 2
            continue
        if role is Role.QUESTION and _is_id(value):
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


def align(layout: Layout, stats: _Stats, cells: Sequence[str]) -> dict[int, str]:
    """Place a row's cells under the header's columns.

    A row whose trailing cells are empty may have lost merged cells on the way (exports drop
    them, shifting the rest left); every order-keeping placement is scored and the best kept.
    """
    width = layout.width
    last = _last_filled(cells)
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


# --------------------------------------------------------------------------- sections


class _Sections:
    """The stack of section titles above the current row, with their numbers when numbered."""

    def __init__(self, root: str = "") -> None:
        self.root = root
        self.stack: list[tuple[str | None, str]] = []  # (number, title)

    def push(self, text: str) -> None:
        m = _NUMBERED_TITLE.match(text)
        if not m:
            self.stack = [(None, text)]
            return
        number, title = m.group(1).replace("．", "."), m.group(2)
        if "." in number:  # "2.1 内部組織" states its own place
            self.stack = [(n, t) for n, t in self.stack if n and number.startswith(n + ".")] + [(number, title)]
            return
        # A bare number continues the top level when it follows on from it ("3" then "4"),
        # otherwise it opens or continues a sub-level ("2 組織" then "1 内部組織").
        top = self.stack[0][0] if self.stack else None
        if top is None or "." in top or int(number) == int(top) + 1:
            self.stack = [(number, title)]
        else:
            self.stack = self.stack[:1] + [(number, title)]

    def titles(self) -> list[str]:
        names = [f"{n} {t}" if n else t for n, t in self.stack]
        return ([self.root] if self.root else []) + names

    def numbers(self) -> list[str]:
        if self.stack and self.stack[-1][0] and "." in self.stack[-1][0]:
            return self.stack[-1][0].split(".")
        return [n for n, _ in self.stack if n is not None]


# --------------------------------------------------------------------------- rows → items


def _join(parts: Sequence[str], sep: str = " / ") -> str:
    seen: list[str] = []
    for p in parts:
        if p and p not in seen:
            seen.append(p)
    return sep.join(seen)


def _is_section_row(layout: Layout, cells: Sequence[str]) -> str | None:
    filled = [(i, v) for i, v in enumerate(cells) if v]
    if layout.products:
        answer_values = [cells[c] if c < len(cells) else "" for c in layout.cols(Role.ANSWER)]
        if answer_values == layout.products:  # the product header repeated under a new section
            outside = [v for i, v in filled if i not in layout.cols(Role.ANSWER)]
            return outside[0] if outside else ""
    if len(filled) != 1:
        return None
    index, value = filled[0]
    if len(value) > 60:
        return None
    role = layout.columns[index].role if index < layout.width else Role.OTHER
    if role in (Role.ID, Role.CATEGORY, Role.OTHER) or index == 0:
        if role is Role.QUESTION and (value.endswith(("?", "？", "か", "か。", "。"))):
            return None
        return value
    return None


def _answers_that_are_choices(layout: Layout, rows: Sequence[dict[int, str]]) -> None:
    """An 'Answer' column holding only Yes/No/N/A is a choice; the comments then hold the answer text."""
    if layout.products or layout.cols(Role.CHOICE):
        return
    answer_cols = layout.cols(Role.ANSWER)
    notes = layout.cols(Role.NOTES)
    if len(answer_cols) != 1 or not notes:
        return
    values = [r.get(answer_cols[0], "") for r in rows]
    filled = [v for v in values if v]
    if filled and all(normalize_choice(v) for v in filled):
        layout.columns[answer_cols[0]].role = Role.CHOICE
        layout.columns[notes[0]].role = Role.ANSWER


def table_items(
    table: Table,
    stats: _Stats,
    *,
    sheet: str | None,
    row_word: str,
    max_cell_chars: int,
) -> tuple[list[ParsedItem], list[SkippedRow]]:
    layout = table.layout
    items: list[ParsedItem] = []
    skipped: list[SkippedRow] = []

    aligned: list[tuple[int, dict[int, str] | str]] = []
    for rownum, cells in table.rows:
        if not any(cells):
            continue
        section = _is_section_row(layout, cells)
        if section is not None:
            aligned.append((rownum, section))
            continue
        too_long = next((v for v in cells if len(v) > max_cell_chars), None)
        if too_long is not None:
            skipped.append(SkippedRow(sheet, rownum, f"a cell is longer than {max_cell_chars} characters"))
            continue
        aligned.append((rownum, align(layout, stats, cells)))

    _answers_that_are_choices(layout, [p for _, p in aligned if isinstance(p, dict)])

    # Leading label columns that are mostly blank are merged category cells, not question text.
    question_cols = layout.cols(Role.QUESTION)
    data_rows = [p for _, p in aligned if isinstance(p, dict)]
    category_cols = list(layout.cols(Role.CATEGORY))
    for col in question_cols[:-1] if not category_cols else []:
        blanks = sum(1 for p in data_rows if not p.get(col))
        if data_rows and blanks / len(data_rows) >= 0.5:
            category_cols.append(col)
        else:
            break
    label_cols = [c for c in question_cols if c not in category_cols]
    id_cols = layout.cols(Role.ID)
    # Columns carried down while blank, highest level first; a new value resets the levels below.
    carried = sorted(set(category_cols + label_cols[:-1] + id_cols[:-1]))

    sections = _Sections(layout.title)
    carry: dict[int, str] = {}
    for rownum, placed in aligned:
        if isinstance(placed, str):
            if placed:
                sections.push(placed)
            carry.clear()
            continue
        values = dict(placed)
        for col in carried:
            if values.get(col):
                carry[col] = values[col]
                for lower in carried:
                    if lower > col and not values.get(lower):
                        carry.pop(lower, None)
            elif col in carry:
                values[col] = carry[col]

        question = _join([values.get(c, "") for c in label_cols])
        ids = [values.get(c, "") for c in id_cols]
        if not any(ids):
            m = _LEADING_ID.match(question)
            if m and (id_cols or sections.numbers()):
                ids = [m.group(1)]
                question = m.group(2)
        if not question:
            skipped.append(SkippedRow(sheet, rownum, "no question text in this row"))
            continue
        locator = _locator(layout, sections, [i for i in ids if i], row_word, rownum)
        section_path = sections.titles() + [values[c] for c in category_cols if values.get(c)]
        notes = _join([values.get(c, "") for c in layout.cols(Role.NOTES)], "\n")
        choice_cols = layout.cols(Role.CHOICE)
        choice_raw = _join([values.get(c, "") for c in choice_cols])
        notes_cell = CellRef(rownum, layout.cols(Role.NOTES)[0]) if layout.cols(Role.NOTES) else None
        choice_cell = CellRef(rownum, choice_cols[0]) if choice_cols else None
        language = detect_language(question)

        answer_cols = layout.cols(Role.ANSWER)
        groups = [(layout.columns[c].product, [c]) for c in answer_cols] if layout.products else [(None, answer_cols)]
        for product, cols in groups:
            answer = _join([values.get(c, "") for c in cols], "\n")
            choice = normalize_choice(choice_raw) if choice_raw else None
            raw = choice_raw
            if choice is None and answer:
                choice, lead = leading_choice(answer)
                raw = raw or lead
            items.append(
                ParsedItem(
                    sheet=sheet,
                    row=rownum,
                    locator=locator,
                    section=section_path,
                    question=question,
                    answer=answer,
                    choice_raw=raw,
                    choice=choice,
                    notes=notes,
                    product=product,
                    language=language,
                    answer_cell=CellRef(rownum, cols[0]) if cols else None,
                    notes_cell=notes_cell,
                    choice_cell=choice_cell,
                )
            )
    return items, skipped


def _locator(layout: Layout, sections: _Sections, ids: list[str], row_word: str, rownum: int) -> str:
    if ids and layout.id_style == "no" and len(ids) == 1:
        return f"No.{ids[0]}"
    if ids:
        parts = ids if len(ids) > 1 else sections.numbers() + ids
        return "-".join(p.rstrip(".．") for p in parts)
    return f"{row_word} {rownum}"


def read_grid(
    grid: Sequence[Row],
    *,
    sheet: str | None,
    row_word: str,
    max_cell_chars: int,
) -> GridResult:
    preamble, tables = split_tables(grid)
    result = GridResult(preamble=preamble, tables=len(tables))
    # Tables under the same header (a header repeated down a long sheet) share their statistics.
    pooled: dict[tuple[str, ...], list[Row]] = {}
    for table in tables:
        pooled.setdefault(_signature(table.layout), []).extend(table.rows)
    for table in tables:
        stats = _column_stats(table.layout, pooled[_signature(table.layout)])
        items, skipped = table_items(table, stats, sheet=sheet, row_word=row_word, max_cell_chars=max_cell_chars)
        result.items.extend(items)
        result.skipped.extend(skipped)
    return result


def preamble_date(lines: Sequence[str]) -> date | None:
    for line in lines:
        found = labelled_date(line)
        if found:
            return found
    return None
