"""Leave-one-sheet-out evaluation of retrieval and drafting on labelled sheets.

Each sheet of a set is held out in turn; the others form the knowledge base; the held-out
sheet's labelled questions are searched and drafted. Labels (in `eval/labels/*.json`) name
entries by (sheet, locator), never by internal ids, so they survive re-ingestion.

Public surface: `run(set_name, ...)` -> `EvalResult`; `report.write(...)`; `compare(...)`; `gate(...)`.
"""

from service.evaluation.runner import EvalResult, run

__all__ = ["EvalResult", "run"]
