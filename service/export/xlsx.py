"""Drafts written into the customer's own workbook.

The workbook keeps everything it had (formatting, merged cells, other sheets, formulas); only
empty answer, choice and notes cells are written.
"""

from __future__ import annotations

import io
from typing import Any

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from service.drafting import NO_EVIDENCE, Draft
from service.export.cells import answer_text, set_text, sources_text, strip_control, text_cell
from service.ingest import ParsedItem
from service.questionnaires import QuestionnaireFile

LOW_CONFIDENCE = 0.6
_NO_EVIDENCE_FILL = PatternFill("solid", fgColor="FFC7CE")
_LOW_FILL = PatternFill("solid", fgColor="FFEB9C")


def _comment(draft: Draft, cite: bool) -> str:
    lines = [f"Draft: {draft.status}, confidence {draft.confidence:.2f}"]
    if draft.flags:
        lines.append("Flags: " + ", ".join(draft.flags))
    if draft.note:
        lines.append(draft.note)
    if cite:
        lines += [f"- {c.source} {c.locator}: {c.text[:200]}" for c in draft.citations]
    return "\n".join(lines)


def _anchor(ws: Any, row: int, column: int) -> Any:
    coordinate = f"{get_column_letter(column)}{row}"
    for merged in ws.merged_cells.ranges:
        if coordinate in merged:
            return ws.cell(row=merged.min_row, column=merged.min_col)
    return ws.cell(row=row, column=column)


def fill_xlsx(
    questionnaire: QuestionnaireFile, pairs: list[tuple[ParsedItem, Draft]], *, marks: bool, cite: bool
) -> bytes:
    """`marks`: colour and comment each drafted cell (a draft for internal review); `cite`: name the
    cited sheets in the notes column (and comments). Neither goes to a customer by default."""
    keep_vba = questionnaire.suffix == ".xlsm"
    wb = openpyxl.load_workbook(io.BytesIO(questionnaire.data), keep_vba=keep_vba)
    for item, draft in pairs:
        if item.sheet is None or (item.answer_cell is None and item.choice_cell is None):
            continue
        ws = wb[item.sheet]
        if item.choice_cell is not None and draft.choice:
            choice_cell = _anchor(ws, item.choice_cell.row, item.choice_cell.column + 1)
            if choice_cell.value in (None, ""):
                set_text(choice_cell, draft.choice)  # the choice word alone
        target = text_cell(item)
        if target is None:
            continue
        cell = _anchor(ws, target.row, target.column + 1)
        if cell.value not in (None, ""):
            continue  # the customer's own text stays
        text = answer_text(draft, separate_choice=item.choice_cell is not None)
        if text:
            set_text(cell, text)
        if marks:
            cell.comment = Comment(strip_control(_comment(draft, cite)), "reviewer")
            if draft.status == NO_EVIDENCE:
                cell.fill = _NO_EVIDENCE_FILL
            elif draft.confidence < LOW_CONFIDENCE or draft.flags:
                cell.fill = _LOW_FILL
        if cite and item.notes_cell is not None and item.notes_cell != target:
            notes = _anchor(ws, item.notes_cell.row, item.notes_cell.column + 1)
            if notes.value in (None, ""):
                set_text(notes, sources_text(draft))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
