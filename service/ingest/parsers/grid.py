"""Shared finish for parsers that produce grids: sheet date, title, and the empty-result error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.table import Row, preamble_date, read_grid


def document_from_grids(
    file: str,
    grids: Sequence[tuple[str | None, Sequence[Row]]],
    *,
    row_word: str,
    limits: Limits,
    choice_columns: Mapping[str | None, set[int]] | None = None,
) -> ParsedDocument:
    """Read every grid (sheet) of a file; a file in which no sheet has a question table is an error."""
    doc = ParsedDocument(file=file, kind="table")
    without_table: list[str] = []
    for sheet, grid in grids:
        _check_width(file, sheet, grid, limits)
        result = read_grid(
            grid,
            sheet=sheet,
            row_word=row_word,
            max_cell_chars=limits.max_cell_chars,
            choice_columns=(choice_columns or {}).get(sheet),
        )
        if not doc.title and result.preamble:
            doc.title = result.preamble[0].lstrip("# ")[:200]
        doc.sheet_date = doc.sheet_date or preamble_date(result.preamble)
        if result.tables == 0:
            if any(any(cells) for _, cells in grid):
                without_table.append(sheet or "")
            continue
        doc.items.extend(result.items)
        doc.skipped.extend(result.skipped)
    named = [s for s in without_table if s]
    if not doc.items:
        if without_table:
            scanned = ", ".join(f"'{s}'" for s in named) or "the table"
            raise IngestError(
                file,
                "no header row with a question column and an answer column was found "
                f"(looked in {scanned}; expected headers such as 質問/確認事項/項目 and 回答/対応内容/備考, "
                "or Question and Answer)",
                sheet=named[0] if len(named) == 1 else None,
            )
        raise IngestError(file, "the file has a question table but no rows with a question under it")
    for sheet in named:
        doc.warnings.append(f"sheet '{sheet}': no question table found, sheet skipped")
    return doc


def _check_width(file: str, sheet: str | None, grid: Sequence[Row], limits: Limits) -> None:
    """A value further right than max_columns is refused (trailing empty cells are harmless)."""
    for rownum, cells in grid:
        if len(cells) > limits.max_columns and any(cells[limits.max_columns :]):
            column = max(i for i, v in enumerate(cells) if v) + 1
            raise IngestError(
                file,
                f"a value is in column {column}; the limit is {limits.max_columns} columns (max_columns)",
                sheet=sheet,
                row=rownum,
            )
