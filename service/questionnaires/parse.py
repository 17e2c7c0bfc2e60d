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


def read_questionnaire(name: str, data: bytes, limits: Limits | None = None) -> QuestionnaireFile:
    """Parse a questionnaire; raises IngestError (naming the file) when it holds no questions."""
    doc = parse_bytes(name, data, limits)
    if not doc.items:
        raise IngestError(name, "no questions found")
    return QuestionnaireFile(name, data, doc.items)


def item_ref(item: ParsedItem) -> str:
    """How a reviewer finds the question in the sheet: its number, or its row."""
    return f"{item.sheet}!{item.locator}" if item.sheet else item.locator
