"""`kotae eval`: leave-one-sheet-out evaluation of retrieval and drafting, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import console, err, fail
from service.settings import get_settings

SETS = ("seeds", "samples")


def eval_command(
    set_name: Annotated[
        str, typer.Argument(help="Labelled set: seeds (../shared/seeds) or samples (knowledge_base/).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the JSON, Markdown and PNG report.")] = Path("eval/out"),
    compare_with: Annotated[Path | None, typer.Option("--compare", help="An earlier JSON report.")] = None,
    tune: Annotated[bool, typer.Option("--tune", help="Grid-search fusion weights and the abstain threshold.")] = False,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when a metric is below its floor in eval/floors.json.")
    ] = False,
    price_in: Annotated[float, typer.Option(help="USD per 1M prompt tokens, for the cost estimate.")] = 0.15,
    price_out: Annotated[float, typer.Option(help="USD per 1M completion tokens.")] = 0.60,
) -> None:
    """Leave-one-sheet-out eval of retrieval and drafting, with a report."""
    # Imported here: the eval pulls in plotting, which the other commands never need.
    from service.evaluation import report, run
    from service.evaluation.runner import FLOORS

    if set_name not in SETS:
        fail(f"set must be one of {', '.join(SETS)}")
    if compare_with is not None and not compare_with.is_file():
        fail(f"{compare_with}: no such file")
    with err.status(f"Evaluating {set_name} (leave one sheet out)…"):
        result = run(set_name, settings=get_settings(), price_in=price_in, price_out=price_out, do_tune=tune)
    compared = report.compare(result, compare_with) if compare_with else None
    paths = report.write(result, out, compared)
    table = Table(title=f"eval {set_name}")
    for column in ("metric", "value") + (("previous", "change") if compared else ()):
        table.add_column(column)
    for key, value in result.metrics.items():
        row = [key, str(value)]
        if compared:
            row += [str(compared[key][0]), f"{value - compared[key][0]:+.4f}"] if key in compared else ["", ""]
        table.add_row(*row)
    console.print(table)
    if tune:
        console.print(
            "Chosen by the eval: "
            + ", ".join(
                f"{k}={result.config[k]}"
                for k in ("lexical_weight_ja", "lexical_weight_en", "rrf_k", "abstain_threshold")
            )
        )
    console.print("Report: " + ", ".join(str(p) for p in paths.values()))
    if gate:
        failures = report.gate(result, FLOORS)
        if failures:
            for failure in failures:
                err.print(f"[red]below floor[/red] {failure}")
            raise typer.Exit(1)
        console.print("All metrics at or above their floors.")
