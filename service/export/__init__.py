"""Answers out: into the customer's own file (xlsx, CSV), or as JSON/CSV of a reviewed questionnaire.

Public surface: `fill(questionnaire_file, drafts)` -> bytes, `to_json`, `FILLABLE` (the suffixes
`fill` writes), `export_questionnaire(stored, fmt)` -> `Exported`, `item_draft`, `safe_csv_value`,
`ExportError`.

Values that a spreadsheet would run as a formula (= + - @) are stored as text in every format.
"""

from service.export.cells import ExportError, safe_csv_value, sources_text
from service.export.files import FILLABLE, fill, to_json
from service.export.stored import Exported, export_questionnaire, item_draft

__all__ = [
    "FILLABLE",
    "ExportError",
    "Exported",
    "export_questionnaire",
    "fill",
    "item_draft",
    "safe_csv_value",
    "sources_text",
    "to_json",
]
