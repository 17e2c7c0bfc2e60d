"""Drafts written into the customer's own CSV, in its delimiter and, when it can hold them, its encoding."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence

from service.drafting import Draft
from service.export.cells import answer_text, safe_csv_value, sources_text, text_cell
from service.ingest import Limits, ParsedItem
from service.ingest.parsers.csv_file import read_csv_records
from service.questionnaires import QuestionnaireFile

log = logging.getLogger(__name__)

# What a CSV is written in when its own encoding cannot hold an answer: UTF-8 with a byte order
# mark, which Excel (Japanese Excel included) opens as UTF-8 rather than as CP932.
FALLBACK_ENCODING = "utf-8-sig"


def csv_encoding_for(records: Sequence[Sequence[str]], original: str) -> str:
    """The encoding to write `records` in: the file's own when every character fits (a CP932
    sheet stays CP932 for the customer's tools), otherwise UTF-8 with BOM, so that no character
    is ever lost ("café naïve" once came back as "caf? na?ve")."""
    try:
        for record in records:
            for value in record:
                value.encode(original)
    except UnicodeEncodeError:
        return FALLBACK_ENCODING
    except LookupError:  # an encoding Python only knows for decoding: write what every tool reads
        return FALLBACK_ENCODING
    return original


def filled_records(
    questionnaire: QuestionnaireFile, pairs: list[tuple[ParsedItem, Draft]], *, cite: bool
) -> tuple[list[list[str]], str, str]:
    """(records with the drafts in their empty cells, the file's own encoding, its delimiter)."""
    records, encoding, delimiter = read_csv_records(questionnaire.name, questionnaire.data, Limits())

    def put(row: int, column: int, value: str) -> None:
        record = records[row - 1]
        if len(record) <= column:
            record.extend([""] * (column + 1 - len(record)))
        if not record[column].strip():
            record[column] = safe_csv_value(value)

    for item, draft in pairs:
        if item.choice_cell is not None and draft.choice:
            put(item.choice_cell.row, item.choice_cell.column, draft.choice)
        target = text_cell(item)
        if target is None:
            continue
        text = answer_text(draft, item.choice_cell is not None)
        if text:
            put(target.row, target.column, text)
        if cite and item.notes_cell is not None and item.notes_cell != target:
            put(item.notes_cell.row, item.notes_cell.column, sources_text(draft))
    return records, encoding, delimiter


def fill_csv(questionnaire: QuestionnaireFile, pairs: list[tuple[ParsedItem, Draft]], *, cite: bool) -> bytes:
    records, original, delimiter = filled_records(questionnaire, pairs, cite=cite)
    encoding = csv_encoding_for(records, original)
    if encoding != original:
        log.info(
            "%s: answers hold characters %s cannot encode; the filled copy is written in %s",
            questionnaire.name,
            original,
            encoding,
        )
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    # Strict: csv_encoding_for chose an encoding that holds every character, so nothing is replaced.
    return out.getvalue().encode(encoding)
