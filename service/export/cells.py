"""What goes into an answer, choice and notes cell, and how a value is kept from running as a formula."""

from __future__ import annotations

import re
from typing import Any

from service.drafting import NO_EVIDENCE, Draft
from service.ingest import CellRef, ParsedItem

# Values a spreadsheet would run as a formula (= + - @), and the control characters it also treats so.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters an xlsx cell cannot hold (XML 1.0 forbids them; openpyxl raises IllegalCharacterError,
# which surfaced as a 500 on export): C0 controls other than tab, newline and carriage return, lone
# surrogates (a JSON "\ud800" arrives as one) and the two non-characters U+FFFE and U+FFFF. A CSV
# could hold them, but Excel shows them as boxes or cuts the line, so both exports drop them.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ExportError(ValueError):
    pass


def text_cell(item: ParsedItem) -> CellRef | None:
    """Where the answer's words go: the answer column, or, in a sheet that asks only for はい/いいえ
    beside a remarks column (回答(はい/いいえ) | 備考), the remarks, where a vendor explains."""
    if item.answer_cell is not None:
        return item.answer_cell
    return item.notes_cell if item.choice_cell is not None else None


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


def strip_control(value: str) -> str:
    """`value` without the characters a sheet cannot hold (tabs and line breaks stay)."""
    return _NOT_TEXT.sub("", value)


def safe_csv_value(value: str) -> str:
    """A CSV value a spreadsheet will not run as a formula, without control characters."""
    value = strip_control(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def set_text(cell: Any, value: str) -> None:
    """An xlsx cell holding `value` as text, never as a formula, without control characters."""
    value = strip_control(value)
    cell.value = value
    if value.startswith(FORMULA_START):
        cell.data_type = "s"
