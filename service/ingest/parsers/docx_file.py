"""Word documents (python-docx): question tables, or headings and paragraphs of a policy."""

from __future__ import annotations

import io
import zipfile

import docx

from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.grid import document_from_grids
from service.ingest.parsers.text_file import parse_prose
from service.ingest.table import Row
from service.ingest.text import clean_cell


def _table_rows(table) -> list[Row]:  # noqa: ANN001 - python-docx Table
    rows: list[Row] = []
    for number, row in enumerate(table.rows, start=1):
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A horizontally merged cell is returned once per grid column; keep it once, as a span.
            cells.append("" if cell._tc is previous else clean_cell(cell.text))
            previous = cell._tc
        rows.append((number, cells))
    return rows


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise IngestError(file, "not a valid .docx document (damaged, password-protected, or not Word)")
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise IngestError(file, f"not a valid .docx document ({type(exc).__name__}: {exc})") from exc
    grids = [(f"table {i}", _table_rows(t)) for i, t in enumerate(document.tables, start=1)]
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
