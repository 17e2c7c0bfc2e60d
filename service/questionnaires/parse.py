"""A customer's questionnaire file: its questions, read by the same parsers as the knowledge base,
each with the position of its answer cells so the drafts can be written back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.ingest import IngestError, Limits, ParsedItem, parse_bytes


@dataclass
class QuestionnaireFile:
    name: str
    data: bytes
    items: list[ParsedItem]

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


# Characters Excel (and openpyxl, which writes the answers back) refuses in a sheet's name.
_SHEET_NAME_REFUSED = frozenset("\\/?*[]:")


def read_questionnaire(name: str, data: bytes, limits: Limits | None = None) -> QuestionnaireFile:
    """Parse a questionnaire; raises IngestError (naming the file) when it holds no questions, or
    when a sheet's name could not be written back to (empty, or with a character Excel refuses):
    answers go back into the sheet of that name, so such a file is refused before anything is stored."""
    doc = parse_bytes(name, data, limits)
    if not doc.items:
        raise IngestError(name, "no questions found")
    for item in doc.items:
        if item.sheet is not None and (not item.sheet.strip() or _SHEET_NAME_REFUSED & set(item.sheet)):
            raise IngestError(
                name,
                "the sheet's name is empty or holds a character Excel refuses (\\ / ? * [ ] :): "
                "answers could not be written back; rename the sheet in Excel",
                sheet=item.sheet[:80],
                row=item.row,
            )
    return QuestionnaireFile(name, data, doc.items)


def item_ref(item: ParsedItem) -> str:
    """How a reviewer finds the question in the sheet: its number, or its row."""
    return f"{item.sheet}!{item.locator}" if item.sheet else item.locator
