"""CSV and TSV in UTF-8, UTF-8 with BOM or CP932 (what Japanese Excel writes), detected."""

from __future__ import annotations

import csv
import io

from service.ingest.encoding import decode_text
from service.ingest.limits import Limits
from service.ingest.model import IngestError, ParsedDocument
from service.ingest.parsers.grid import document_from_grids
from service.ingest.table import Row
from service.ingest.text import clean_cell


def sniff_delimiter(text: str, file: str) -> str:
    if file.lower().endswith(".tsv"):
        return "\t"
    sample = text[:8192]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        counts = {d: sample.count(d) for d in (",", "\t", ";")}
        return max(counts, key=lambda d: counts[d])


def read_csv_records(file: str, data: bytes, limits: Limits) -> tuple[list[list[str]], str, str]:
    """(raw records, encoding, delimiter): kept as they are so a filled copy can match the original."""
    try:
        text, encoding = decode_text(data)
    except UnicodeDecodeError as exc:
        raise IngestError(file, "not a text file in UTF-8, UTF-8 with BOM or CP932") from exc
    delimiter = sniff_delimiter(text, file)
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, record in enumerate(reader, start=1):
            if number > limits.max_rows:
                raise IngestError(file, f"more than {limits.max_rows} rows", row=number)
            records.append(record)
    except csv.Error as exc:
        raise IngestError(file, f"malformed CSV: {exc}", row=reader.line_num) from exc
    return records, encoding, delimiter


def parse(file: str, data: bytes, limits: Limits) -> ParsedDocument:
    records, _, _ = read_csv_records(file, data, limits)
    rows: list[Row] = [(number, [clean_cell(c) for c in record]) for number, record in enumerate(records, start=1)]
    return document_from_grids(file, [(None, rows)], row_word="row", limits=limits)
