"""Drafts written back into the customer's own file type, or as JSON."""

from __future__ import annotations

from typing import Any

from service.drafting import Draft
from service.export.cells import ExportError
from service.export.csv_file import fill_csv
from service.export.xlsx import fill_xlsx
from service.questionnaires import QuestionnaireFile

FILLABLE = (".xlsx", ".xlsm", ".csv", ".tsv")


def fill(questionnaire: QuestionnaireFile, drafts: list[Draft]) -> bytes:
    """The customer's file with the drafts written into its answer cells (drafts in item order)."""
    if len(drafts) != len(questionnaire.items):
        raise ExportError("one draft per question is needed")
    pairs = list(zip(questionnaire.items, drafts, strict=True))
    match questionnaire.suffix:
        case ".xlsx" | ".xlsm":
            return fill_xlsx(questionnaire, pairs)
        case ".csv" | ".tsv":
            return fill_csv(questionnaire, pairs)
        case other:
            raise ExportError(f"cannot write answers back into a '{other}' file; use the JSON output")


def to_json(questionnaire: QuestionnaireFile, drafts: list[Draft]) -> dict[str, Any]:
    return {"questionnaire": questionnaire.name, "items": [d.to_json() for d in drafts]}
