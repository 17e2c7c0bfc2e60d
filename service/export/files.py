"""Drafts written back into the customer's own file type, or as JSON."""

from __future__ import annotations

from typing import Any

from service.drafting import Draft
from service.export.cells import ExportError
from service.export.csv_file import fill_csv
from service.export.xlsx import fill_xlsx
from service.questionnaires import QuestionnaireFile

FILLABLE = (".xlsx", ".xlsm", ".csv", ".tsv")


def fill(questionnaire: QuestionnaireFile, drafts: list[Draft], *, marks: bool = False, cite: bool = False) -> bytes:
    """The customer's file with the drafts written into its empty answer cells (drafts in item order).

    By default nothing but answers reaches the file: no names of past sheets (they can reveal
    other customers), no tool name, no colours or comments. `cite` writes the cited sheets into
    the notes column; `marks` colours and comments drafted cells for an internal review copy.
    """
    if len(drafts) != len(questionnaire.items):
        raise ExportError("one draft per question is needed")
    pairs = list(zip(questionnaire.items, drafts, strict=True))
    match questionnaire.suffix:
        case ".xlsx" | ".xlsm":
            return fill_xlsx(questionnaire, pairs, marks=marks, cite=cite)
        case ".csv" | ".tsv":
            return fill_csv(questionnaire, pairs, cite=cite)
        case other:
            raise ExportError(f"cannot write answers back into a '{other}' file; use the JSON output")


def to_json(questionnaire: QuestionnaireFile, drafts: list[Draft]) -> dict[str, Any]:
    return {"questionnaire": questionnaire.name, "items": [d.to_json() for d in drafts]}
