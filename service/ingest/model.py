"""The one shape every parser returns, whatever the file format."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


class IngestError(Exception):
    """A file that cannot be read; says which file, sheet and row, so a person can fix it."""

    def __init__(self, file: str, message: str, sheet: str | None = None, row: int | None = None) -> None:
        self.file = file
        self.sheet = sheet
        self.row = row
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        return f"{', '.join(where)}: {self.message}"


@dataclass(frozen=True)
class CellRef:
    """Where a value sits in the original file (0-based column), so answers can be written back."""

    row: int  # 1-based physical row (spreadsheet row or text line)
    column: int  # 0-based column index in the parsed grid


@dataclass
class ParsedItem:
    """One question (and its answer, when the sheet has one) as found in a file."""

    sheet: str | None
    row: int
    locator: str
    section: list[str]
    question: str
    answer: str = ""
    choice_raw: str = ""
    choice: str | None = None  # normalised: "yes" | "no" | "na"
    notes: str = ""
    product: str | None = None
    language: str = "und"
    answer_cell: CellRef | None = None
    notes_cell: CellRef | None = None
    choice_cell: CellRef | None = None


@dataclass
class SkippedRow:
    sheet: str | None
    row: int
    reason: str


@dataclass
class ParsedDocument:
    """Everything read from one file."""

    file: str
    kind: str  # "table" | "prose"
    items: list[ParsedItem] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    title: str = ""
    sheet_date: date | None = None
    warnings: list[str] = field(default_factory=list)
