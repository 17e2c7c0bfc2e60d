"""Drafts written into the customer's own CSV, in its encoding and delimiter."""

from __future__ import annotations

import csv
import io

from service.drafting import Draft
from service.export.cells import answer_text, safe_csv_value, sources_text
from service.ingest import Limits, ParsedItem
from service.ingest.parsers.csv_file import read_csv_records
from service.questionnaires import QuestionnaireFile


def fill_csv(questionnaire: QuestionnaireFile, pairs: list[tuple[ParsedItem, Draft]], *, cite: bool) -> bytes:
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
        if item.answer_cell is None:
            continue
        text = answer_text(draft, item.choice_cell is not None)
        if text:
            put(item.answer_cell.row, item.answer_cell.column, text)
        if cite and item.notes_cell is not None:
            put(item.notes_cell.row, item.notes_cell.column, sources_text(draft))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    return out.getvalue().encode(encoding, errors="replace")
