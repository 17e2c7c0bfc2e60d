"""Excel workbooks (openpyxl): every sheet, header anywhere near the top, merged cells."""

from __future__ import annotations

import io
import zipfile

import msoffcrypto
import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from service.ingest.choices import normalize_choice
from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.grid import document_from_grids
from service.ingest.table import Row
from service.ingest.text import clean_cell


def _check_container(file: str, data: bytes) -> None:
    if zipfile.is_zipfile(io.BytesIO(data)):
        return
    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        encrypted = office.is_encrypted()
    except Exception:  # noqa: BLE001 - anything msoffcrypto cannot open is simply not an encrypted file
        encrypted = False
    if encrypted:
        raise IngestError(file, "the workbook is password-protected; remove the password in Excel and retry")
    raise IngestError(file, "not a valid .xlsx workbook (the file is damaged or is not an Excel file)")


def load_workbook(file: str, data: bytes, *, data_only: bool = True) -> openpyxl.Workbook:
    _check_container(file, data)
    try:
        return openpyxl.load_workbook(io.BytesIO(data), data_only=data_only)
    except Exception as exc:  # openpyxl raises many types for damaged parts
        raise IngestError(file, f"not a valid .xlsx workbook ({type(exc).__name__}: {exc})") from exc


def sheet_rows(file: str, ws: Worksheet, limits: Limits) -> list[Row]:
    """Rows of cleaned text; a vertically merged cell's value is repeated down its rows."""
    if ws.max_row > limits.max_rows:
        raise IngestError(file, f"more than {limits.max_rows} rows", sheet=ws.title)
    grid: list[list[str]] = [
        [clean_cell(v) for v in values] for values in ws.iter_rows(min_row=1, min_col=1, values_only=True)
    ]
    for merged in ws.merged_cells.ranges:
        if merged.max_row == merged.min_row:
            continue  # horizontal spans stay as they are: the table reader reads them as spans
        value = grid[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            grid[r - 1][merged.min_col - 1] = value
    return [(number, cells) for number, cells in enumerate(grid, start=1)]


def _list_values(ws: Worksheet, formula: str) -> list[str]:
    """The values a drop-down list offers: inline ("はい,いいえ") or a range on the same sheet."""
    formula = formula.strip()
    if formula.startswith('"'):
        return [v.strip() for v in formula.strip('"').split(",")]
    if "!" in formula or ":" not in formula:
        return []  # another sheet or a named range: not worth resolving for a hint
    try:
        cells = ws[formula.replace("$", "")]
    except ValueError:
        return []
    rows = cells if isinstance(cells, tuple) else ((cells,),)
    return [clean_cell(c.value) for row in rows for c in (row if isinstance(row, tuple) else (row,))]


def choice_columns(ws: Worksheet) -> set[int]:
    """0-based columns whose cells only accept a choice (はい/いいえ/該当なし, Yes/No/N/A)."""
    columns: set[int] = set()
    for validation in ws.data_validations.dataValidation:
        if validation.type != "list" or not validation.formula1:
            continue
        values = [v for v in _list_values(ws, validation.formula1) if v]
        if len(values) >= 2 and sum(1 for v in values if normalize_choice(v)) >= len(values) - 1:
            for cell_range in validation.sqref.ranges:
                columns.update(range(cell_range.min_col - 1, cell_range.max_col))
    return columns


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    wb = load_workbook(file, data)
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    grids = [(ws.title, sheet_rows(file, ws, limits)) for ws in visible]
    choices = {ws.title: choice_columns(ws) for ws in visible}
    return document_from_grids(file, grids, row_word="row", limits=limits, choice_columns=choices)
