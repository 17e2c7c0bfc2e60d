"""Word documents (python-docx): question tables, or headings and paragraphs of a policy."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.table import Table, _Cell

from service.ingest.archive import check_xml_parts, open_archive
from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.grid import document_from_grids
from service.ingest.parsers.text_file import parse_prose
from service.ingest.table import Row
from service.ingest.text import clean_cell


class _Budget:
    """Cells read across the document's tables, against max_cells."""

    def __init__(self, file: str, limits: Limits) -> None:
        self.file, self.limits, self.cells = file, limits, 0

    def spend(self, cells: int, sheet: str, row: int) -> None:
        self.cells += cells
        if self.cells > self.limits.max_cells:
            raise IngestError(
                self.file, f"the tables hold more than {self.limits.max_cells} cells (limit max_cells)", sheet, row
            )


def _table_rows(file: str, sheet: str, table: Table, limits: Limits, budget: _Budget) -> list[Row]:
    """The table's rows as grid cells; a horizontally merged cell is kept once, then empty, as a
    span; a vertically merged cell's text is repeated down its rows.

    Read from the table's XML in one pass, keeping the text over each grid column: python-docx's
    `row.cells` finds a vertically merged cell's text by walking up the rows one XPath query at
    a time, recursively (a merge over a few hundred rows took seconds, over a thousand it hit the
    recursion limit), and raised ValueError on merges that do not line up with the row above or
    that start in the first row. Such merges are read as Word shows them: the text of whatever
    cell covers that column in the row above, or nothing.
    """
    rows: list[Row] = []
    above: dict[int, str] = {}  # grid column -> text of the cell covering it in the row above
    for number, tr in enumerate(table._tbl.tr_lst, start=1):
        if number > limits.max_rows:
            raise IngestError(file, f"a table has more than {limits.max_rows} rows (max_rows)", sheet=sheet)
        cells: list[str] = []
        current: dict[int, str] = {}
        offset = tr.grid_before  # cells omitted at the row's start: not in the row, as python-docx reads it
        for tc in tr.tc_lst:
            span = max(1, tc.grid_span)
            if offset + span > limits.max_columns:
                raise IngestError(
                    file,
                    f"a cell reaches column {offset + span}; the limit is {limits.max_columns} columns (max_columns)",
                    sheet=sheet,
                    row=number,
                )
            text = above.get(offset, "") if tc.vMerge == "continue" else clean_cell(_Cell(tc, table).text)
            cells.append(text)
            cells.extend([""] * (span - 1))
            for column in range(offset, offset + span):
                current[column] = text
            offset += span
        budget.spend(len(cells), sheet, number)
        above = current
        rows.append((number, cells))
    return rows


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(file, "not a valid .docx document (damaged, password-protected, or not Word)")
    with open_archive(file, data, limits, "document") as archive:
        check_xml_parts(file, archive, limits.max_cells)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise IngestError(file, f"not a valid .docx document ({type(exc).__name__}: {exc})") from exc
    budget = _Budget(file, limits)
    grids: list[tuple[str | None, list[Row]]] = []
    for i, table in enumerate(document.tables, start=1):
        grids.append((f"table {i}", _table_rows(file, f"table {i}", table, limits, budget)))
    if grids:
        try:
            return document_from_grids(file, grids, row_word="row", limits=limits)
        except IngestError:
            pass  # tables that are not questionnaires: read the text as a policy
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "").lower()
        if style.startswith(("heading", "見出し")):
            text = "# " + text
        lines.append(text)
    return parse_prose(file, lines, limits)
