"""Writing drafts back into the customer's own file, and as JSON.

Public surface: `fill(questionnaire, drafts, ...)` -> bytes, `to_json(questionnaire, drafts)`,
`FILLABLE` (the suffixes `fill` writes), `ExportError`.

The customer's workbook keeps everything it had (formatting, merged cells, other sheets,
formulas); only empty answer, choice and notes cells are written. Values that a spreadsheet
would run as a formula (= + - @) are stored as text.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from service.drafting.model import NO_EVIDENCE, Draft
from service.drafting.questionnaire import Questionnaire
from service.ingest import Limits, ParsedItem
from service.ingest.parsers.csv_file import read_csv_records

FILLABLE = (".xlsx", ".xlsm", ".csv", ".tsv")
LOW_CONFIDENCE = 0.6
_NO_EVIDENCE_FILL = PatternFill("solid", fgColor="FFC7CE")
_LOW_FILL = PatternFill("solid", fgColor="FFEB9C")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    pass


def answer_text(draft: Draft, separate_choice: bool) -> str:
    """The text for the answer cell: the choice first when no column of its own holds it."""
    if draft.status == NO_EVIDENCE:
        return ""
    if separate_choice or not draft.choice or draft.answer.startswith(draft.choice):
        return draft.answer
    joiner = "。" if draft.language == "ja" else ". "
    return f"{draft.choice}{joiner}{draft.answer}" if draft.answer else draft.choice


def sources_text(draft: Draft) -> str:
    if draft.status == NO_EVIDENCE:
        return "根拠なし（要確認）" if draft.language == "ja" else "No evidence found (needs review)"
    head = "根拠" if draft.language == "ja" else "Sources"
    return f"{head}: " + "; ".join(f"{c.source} {c.locator}" for c in draft.citations)


def _comment(draft: Draft) -> str:
    lines = [f"Kotae draft: {draft.status}, confidence {draft.confidence:.2f}"]
    lines += [f"- {c.source} {c.locator}: {c.text[:200]}" for c in draft.citations]
    return "\n".join(lines)


def _set_text(cell: Any, value: str) -> None:
    cell.value = value
    if value.startswith(_FORMULA_START):
        cell.data_type = "s"  # text, never a formula


def _anchor(ws: Any, row: int, column: int) -> Any:
    coordinate = f"{get_column_letter(column)}{row}"
    for merged in ws.merged_cells.ranges:
        if coordinate in merged:
            return ws.cell(row=merged.min_row, column=merged.min_col)
    return ws.cell(row=row, column=column)


def _fill_xlsx(questionnaire: Questionnaire, pairs: list[tuple[ParsedItem, Draft]]) -> bytes:
    keep_vba = questionnaire.suffix == ".xlsm"
    wb = openpyxl.load_workbook(io.BytesIO(questionnaire.data), keep_vba=keep_vba)
    for item, draft in pairs:
        if item.answer_cell is None or item.sheet is None:
            continue
        ws = wb[item.sheet]
        cell = _anchor(ws, item.answer_cell.row, item.answer_cell.column + 1)
        if cell.value not in (None, ""):
            continue  # the customer's own text stays
        if item.choice_cell is not None and draft.choice:
            choice_cell = _anchor(ws, item.choice_cell.row, item.choice_cell.column + 1)
            if choice_cell.value in (None, ""):
                _set_text(choice_cell, draft.choice)
        _set_text(cell, answer_text(draft, separate_choice=item.choice_cell is not None))
        cell.comment = Comment(_comment(draft), "Kotae")
        if draft.status == NO_EVIDENCE:
            cell.fill = _NO_EVIDENCE_FILL
        elif draft.confidence < LOW_CONFIDENCE:
            cell.fill = _LOW_FILL
        if item.notes_cell is not None:
            notes = _anchor(ws, item.notes_cell.row, item.notes_cell.column + 1)
            if notes.value in (None, ""):
                _set_text(notes, sources_text(draft))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def safe_csv_value(value: str) -> str:
    """A CSV value a spreadsheet will not run as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _fill_csv(questionnaire: Questionnaire, pairs: list[tuple[ParsedItem, Draft]]) -> bytes:
    records, encoding, delimiter = read_csv_records(questionnaire.name, questionnaire.data, Limits())

    def put(row: int, column: int, value: str) -> None:
        record = records[row - 1]
        if len(record) <= column:
            record.extend([""] * (column + 1 - len(record)))
        if not record[column].strip():
            record[column] = safe_csv_value(value)

    for item, draft in pairs:
        if item.answer_cell is None:
            continue
        if item.choice_cell is not None and draft.choice:
            put(item.choice_cell.row, item.choice_cell.column, draft.choice)
        put(item.answer_cell.row, item.answer_cell.column, answer_text(draft, item.choice_cell is not None))
        if item.notes_cell is not None:
            put(item.notes_cell.row, item.notes_cell.column, sources_text(draft))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(records)
    return out.getvalue().encode(encoding, errors="replace")


def fill(questionnaire: Questionnaire, drafts: list[Draft]) -> bytes:
    """The customer's file with the drafts written into its answer cells (drafts in item order)."""
    if len(drafts) != len(questionnaire.items):
        raise ExportError("one draft per question is needed")
    pairs = list(zip(questionnaire.items, drafts, strict=True))
    match questionnaire.suffix:
        case ".xlsx" | ".xlsm":
            return _fill_xlsx(questionnaire, pairs)
        case ".csv" | ".tsv":
            return _fill_csv(questionnaire, pairs)
        case other:
            raise ExportError(f"cannot write answers back into a '{other}' file; use the JSON output")


def to_json(questionnaire: Questionnaire, drafts: list[Draft]) -> dict[str, Any]:
    return {"questionnaire": questionnaire.name, "items": [d.to_json() for d in drafts]}
