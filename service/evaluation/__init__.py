"""Leave-one-sheet-out evaluation of retrieval and drafting on labelled sheets.

Each sheet of a set is held out in turn: all sheets sit in one workspace, the held-out one is
hidden through the read-only view `kb.excluding` (as `kotae eval holdout` hides a user's sheet),
and its labelled questions are searched and drafted. Labels (in `eval/labels/*.json`) name
entries by (sheet, locator), never by internal ids, so they survive re-ingestion.

Public surface: `run(set_name, ...)` -> `EvalResult`; `report.write(...)`; `compare(...)`; `gate(...)`.
The user's own sheets (`kotae eval holdout`, the API and the web pages): `run_holdout` (the eval,
read-only), `make_judge` (an LLM judge when an LLM is configured), `keep_calibration` (fit and keep
a workspace's calibration on a run, audited), and holdout runs as background jobs: `start_run` (store
and audit a queued run) and `execute_run` (the job body, which `service.jobs` runs under its leases:
`Jobs.holdout`), `fail_run`, `list_runs`, `get_run`, `holdable_sources`, `shown_status`,
`HoldoutRecord`, `HoldoutInputError`, `RunInProgress`.
"""

from service.evaluation.holdout import run_holdout
from service.evaluation.judge import make_judge
from service.evaluation.models import OPEN_RUN, HoldoutRecord
from service.evaluation.runner import EvalResult, run
from service.evaluation.runs import (
    HoldoutInputError,
    RunInProgress,
    execute_run,
    fail_run,
    get_run,
    holdable_sources,
    keep_calibration,
    list_runs,
    shown_status,
    start_run,
)

__all__ = [
    "OPEN_RUN",
    "EvalResult",
    "HoldoutInputError",
    "HoldoutRecord",
    "RunInProgress",
    "execute_run",
    "fail_run",
    "get_run",
    "holdable_sources",
    "keep_calibration",
    "list_runs",
    "make_judge",
    "run",
    "run_holdout",
    "shown_status",
    "start_run",
]
