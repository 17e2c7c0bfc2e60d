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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from service.ingest.alignment import ColumnStats, align, column_stats, signature
from service.ingest.choices import leading_choice, normalize_choice
from service.ingest.columns import Role
from service.ingest.layout import Layout, Row, Table, split_tables
from service.ingest.model import CellRef, ParsedItem, SkippedRow
from service.ingest.text import detect_language, labelled_date

_NUMBERED_TITLE = re.compile(r"^(\d{1,3}(?:[.．]\d{1,3}){0,3})[.．)）]?[\s\u3000]+(\S.*)$")
_LEADING_ID = re.compile(r"^(\d{1,3}(?:[.\-]\d{1,3}){0,3})[\s\u3000]+(\S.+)$")


@dataclass
class GridResult:
    items: list[ParsedItem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    tables: int = 0


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


def _answers_that_are_choices(layout: Layout, rows: Sequence[dict[int, str]], validated: set[int]) -> None:
    """An 'Answer' column holding only Yes/No/N/A, or whose cells only accept those (a drop-down
    list), is a choice; the comments column beside it then holds the answer text."""
    if layout.products or layout.cols(Role.CHOICE):
        return
    answer_cols = layout.cols(Role.ANSWER)
    notes = layout.cols(Role.NOTES)
    if len(answer_cols) != 1 or not notes:
        return
    values = [r.get(answer_cols[0], "") for r in rows]
    filled = [v for v in values if v]
    if answer_cols[0] in validated or (filled and all(normalize_choice(v) for v in filled)):
        layout.columns[answer_cols[0]].role = Role.CHOICE
        layout.columns[notes[0]].role = Role.ANSWER


def table_items(
    table: Table,
    stats: ColumnStats,
    *,
    sheet: str | None,
    row_word: str,
    max_cell_chars: int,
    choice_columns: set[int] | None = None,
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

    _answers_that_are_choices(layout, [p for _, p in aligned if isinstance(p, dict)], choice_columns or set())

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
    choice_columns: set[int] | None = None,
) -> GridResult:
    """`choice_columns`: 0-based columns whose cells only accept a choice (an Excel drop-down list)."""
    preamble, tables = split_tables(grid)
    result = GridResult(preamble=preamble, tables=len(tables))
    # Tables under the same header (a header repeated down a long sheet) share their statistics.
    pooled: dict[tuple[str, ...], list[Row]] = {}
    for table in tables:
        pooled.setdefault(signature(table.layout), []).extend(table.rows)
    for table in tables:
        stats = column_stats(table.layout, pooled[signature(table.layout)])
        items, skipped = table_items(
            table, stats, sheet=sheet, row_word=row_word, max_cell_chars=max_cell_chars, choice_columns=choice_columns
        )
        result.items.extend(items)
        result.skipped.extend(skipped)
    return result


def preamble_date(lines: Sequence[str]) -> date | None:
    for line in lines:
        found = labelled_date(line)
        if found:
            return found
    return None
