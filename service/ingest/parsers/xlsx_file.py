"""Excel workbooks: every visible sheet, header anywhere near the top, merged cells, drop-down lists.

The workbook is read as a bounded stream (xlsx_reader): only cells holding a value are kept, and
a sheet is turned into a grid only once its used range is known to fit the limits.
"""

from __future__ import annotations

import io
import zipfile

import msoffcrypto

from service.ingest.archive import open_archive
from service.ingest.choices import normalize_choice
from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.grid import document_from_grids
from service.ingest.parsers.xlsx_reader import Sheet, list_values, read_book, read_sheet, sqref_columns
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


def sheet_rows(file: str, sheet: Sheet, limits: Limits) -> list[Row]:
    """Rows of cleaned text; a vertically merged cell's value is repeated down its rows."""
    area = sheet.max_row * sheet.max_col
    if area > limits.max_cells:
        raise IngestError(
            file,
            f"the used range is {sheet.max_row} rows x {sheet.max_col} columns ({area} cells); "
            f"the limit is {limits.max_cells} cells (max_cells)",
            sheet=sheet.name,
        )
    grid = [[""] * sheet.max_col for _ in range(sheet.max_row)]
    for r, values in sheet.values.items():
        row = grid[r - 1]
        for c, value in values.items():
            row[c - 1] = clean_cell(value)
    for min_col, min_row, _, max_row in sheet.merges:
        if max_row == min_row:
            continue  # horizontal spans stay as they are: the table reader reads them as spans
        value = grid[min_row - 1][min_col - 1]
        for r in range(min_row, max_row + 1):
            grid[r - 1][min_col - 1] = value
    return [(number, cells) for number, cells in enumerate(grid, start=1)]


def _list_values(sheet: Sheet, formula: str) -> list[str]:
    """The values a drop-down list offers: inline ("はい,いいえ") or a range on the same sheet."""
    formula = formula.strip()
    if formula.startswith('"'):
        return [v.strip() for v in formula.strip('"').split(",")]
    if "!" in formula or ":" not in formula:
        return []  # another sheet or a named range: not worth resolving for a hint
    return [clean_cell(v) for v in list_values(sheet, formula.replace("$", ""))]


def choice_columns(sheet: Sheet) -> set[int]:
    """0-based columns whose cells only accept a choice (はい/いいえ/該当なし, Yes/No/N/A)."""
    columns: set[int] = set()
    for sqref, formula in sheet.validations:
        values = [v for v in _list_values(sheet, formula) if v]
        if len(values) >= 2 and sum(1 for v in values if normalize_choice(v)) >= len(values) - 1:
            columns.update(sqref_columns(sqref))
    return columns


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    _check_container(file, data)
    grids: list[tuple[str | None, list[Row]]] = []
    choices: dict[str | None, set[int]] = {}
    with open_archive(file, data, limits, "workbook") as archive:
        book = read_book(file, archive, limits)
        for info in book.sheets:
            if not info.visible:
                continue
            sheet = read_sheet(file, archive, info, book, limits)
            grids.append((sheet.name, sheet_rows(file, sheet, limits)))
            choices[sheet.name] = choice_columns(sheet)
    return document_from_grids(file, grids, row_word="row", limits=limits, choice_columns=choices)
