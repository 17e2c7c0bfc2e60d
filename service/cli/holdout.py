"""`kotae eval holdout`: how well Kotae would have answered one of your own answered sheets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from service.cli.common import WorkspaceOpt, console, db_session, err, fail, open_workspace, progress, workspace_name
from service.knowledge_base import KnowledgeBase, list_sources
from service.settings import get_settings


def holdout(
    source: Annotated[
        str | None,
        typer.Argument(help="A source as `kotae kb stats` lists it, or an answered sheet's path not in the workspace."),
    ] = None,
    workspace: WorkspaceOpt = None,
    all_sources: Annotated[bool, typer.Option("--all", help="Hold out every source in turn.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
    report_dir: Annotated[
        Path | None, typer.Option("--report", help="Write Markdown + a reliability plot here.")
    ] = None,
    calibrate: Annotated[
        bool, typer.Option("--calibrate", help="With --all: fit this workspace's confidence calibration and keep it.")
    ] = False,
) -> None:
    """Hold out a sheet, draft it from everything else in the workspace, and compare with the real answers.

    Read-only: nothing in the workspace changes (entries, vectors, revision), and no draft may cite
    the held-out sheet.
    """
    from service.evaluation import keep_calibration, make_judge, run_holdout
    from service.evaluation.heldout_report import write_holdout_report
    from service.evaluation.holdout import CalibrationError, CitationLeak

    if not all_sources and source is None:
        fail("name a source (kotae kb stats lists them), an answered file, or --all")
    if calibrate and not all_sources:
        fail("--calibrate needs --all: a calibration rests on every sheet held out in turn")
    settings = get_settings()
    kb = KnowledgeBase(settings)
    ws_name = workspace_name(workspace)
    file = Path(source) if source is not None and Path(source).is_file() else None
    judge = make_judge(settings)  # an LLM judge too when an LLM is configured
    with db_session() as session:
        ws = open_workspace(session, ws_name, with_entries=True)
        known = [s.name for s, count in list_sources(session, ws) if count]
        if all_sources:
            names = [n for n in known if not n.startswith("review #")]
        elif file is None:
            if source not in known:
                fail(f"no source named '{source}' in workspace '{ws_name}' and no such file")
            names = [source]
        else:
            names = []
        with progress() as bar:
            task = bar.add_task("Holding out", total=None)

            def report(name: str, done: int, total: int) -> None:
                bar.update(task, description=f"Holding out {name}", completed=done, total=total)

            try:
                run = run_holdout(session, kb, ws_name, names, file, report, judge)
            except CitationLeak as exc:
                fail(f"bug: {exc}", code=1)
        data = run.to_json()
        if calibrate:  # the same step as a run started from the API with "calibrate": fitted, kept, audited
            try:
                calibration = keep_calibration(session, ws, run, settings, by="kotae eval holdout --calibrate")
            except CalibrationError as exc:
                fail(str(exc), code=1)
    table = Table(title=f"Held out from workspace '{ws_name}'")
    columns = ["source", "questions", "drafted", "choice agr.", "answer agr.", "abstained/elsewhere", "s/q"]
    for column in columns + (["judge agr."] if judge else []):
        table.add_column(column)
    for row in [*data["sources"], data["overall"]]:
        judged = ["-" if row["judge_agreement"] is None else f"{row['judge_agreement']:.2f}"] if judge else []
        table.add_row(
            escape(str(row["source"])),
            str(row["questions"]),
            str(row["drafted"]),
            "-" if row["choice_agreement"] is None else f"{row['choice_agreement']:.2f}",
            "-" if row["answer_agreement"] is None else f"{row['answer_agreement']:.2f}",
            str(row["abstained_with_answer_elsewhere"]),
            "-" if row["seconds_per_question"] is None else f"{row['seconds_per_question']:.2f}",
            *judged,
        )
    console.print(table)
    bands = Table(title="confidence band → answer agreement (overall)")
    for column in ("band", "count", "agreement"):
        bands.add_column(column)
    for band in data["overall"]["reliability"]:
        value = band["agreement"]
        bands.add_row(band["band"], str(band["count"]), "-" if value is None else f"{value:.2f}")
    console.print(bands)
    if calibrate:
        console.print(
            f"Calibration fitted on {calibration['samples']} drafts ({calibration['fitted_at']}) "
            f"and kept for workspace '{ws_name}'."
        )
        if not calibration["in_use"]:
            console.print(
                f"It rests on fewer than {calibration['min_samples']} drafts: drafting keeps Kotae's calibration."
            )
    if json_out is not None:
        json_out.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        console.print(f"JSON written to {json_out}")
    if report_dir is not None:
        paths = write_holdout_report(data, report_dir)
        console.print("Report: " + ", ".join(str(p) for p in paths))
    if judge is not None and judge.failures:
        err.print(f"the LLM judge failed on {judge.failures} drafts (left unjudged; see the log)")
    if not data["sources"]:
        err.print("nothing was held out")
