"""Finding tables in a grid of cells: header rows (anywhere, merged, one answer column per
product) and the data rows under each."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.ingest.columns import Role, header_key, header_role, product_from_header

Row = tuple[int, list[str]]  # (1-based physical row, cleaned cells)

_ID_VALUE = re.compile(r"^[A-Za-z]{0,4}[-.]?\d{1,4}(?:[.\-‐－]\d{1,4}){0,3}[.．]?$")
_NO_STYLE = {"no", "no.", "no.#", "#", "number", "通番", "連番"}


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


def is_id(value: str) -> bool:
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
    if len(nonempty) <= 3 and not is_id(nonempty[0]) and known == [Role.ANSWER]:
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
        if data and sum(1 for r in data if lead < len(r) and is_id(r[lead])) >= max(1, len(data) // 2):
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
