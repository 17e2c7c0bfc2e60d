"""`kotae eval`: leave-one-sheet-out evaluation of retrieval and drafting, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from service.cli.common import console, err, fail
from service.cli.holdout import holdout
from service.settings import get_settings

eval_app = typer.Typer(
    help="Measure retrieval and drafting: on built-in labelled sets, or on your own answered sheets (holdout).",
    no_args_is_help=True,
)


def labelled_set(
    set_name: str,
    out: Path,
    compare_with: Path | None,
    tune: bool,
    gate: bool,
    price_in: float,
    price_out: float,
) -> None:
    """Leave-one-sheet-out eval of retrieval and drafting, with a report."""
    # Imported here: the eval pulls in plotting, which the other commands never need.
    from service.evaluation import report, run
    from service.evaluation.runner import FLOORS

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
    if result.library:
        library_table(result.library)
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


def library_table(library: dict[str, Any]) -> None:
    """The answer library's clusters and conflicts against the labels: a few numbers, not gated."""
    from service.evaluation.report import LIBRARY

    table = Table(title="answer library (all sheets in one workspace)")
    table.add_column("measure")
    table.add_column("value")
    for key in LIBRARY:
        if key in library:
            table.add_row(key, str(library[key]))
    console.print(table)


OutOpt = Annotated[Path, typer.Option(help="Folder for the JSON, Markdown and PNG report.")]
CompareOpt = Annotated[Path | None, typer.Option("--compare", help="An earlier JSON report.")]
TuneOpt = Annotated[bool, typer.Option("--tune", help="Grid-search fusion weights and the abstain threshold.")]
GateOpt = Annotated[bool, typer.Option("--gate", help="Exit 1 when a metric is past its limit in eval/floors.json.")]
PriceIn = Annotated[float, typer.Option(help="USD per 1M prompt tokens, for the cost estimate.")]
PriceOut = Annotated[float, typer.Option(help="USD per 1M completion tokens.")]


@eval_app.command("seeds")
def seeds(
    out: OutOpt = Path("eval/out"),
    compare_with: CompareOpt = None,
    tune: TuneOpt = False,
    gate: GateOpt = False,
    price_in: PriceIn = 0.15,
    price_out: PriceOut = 0.60,
) -> None:
    """Leave one seed sheet (../shared/seeds) out in turn; its labelled rows are asked as questions."""
    labelled_set("seeds", out, compare_with, tune, gate, price_in, price_out)


@eval_app.command("samples")
def samples(
    out: OutOpt = Path("eval/out"),
    compare_with: CompareOpt = None,
    tune: TuneOpt = False,
    gate: GateOpt = False,
    price_in: PriceIn = 0.15,
    price_out: PriceOut = 0.60,
) -> None:
    """Leave one sample sheet (knowledge_base/) out in turn."""
    labelled_set("samples", out, compare_with, tune, gate, price_in, price_out)


@eval_app.command("heldout")
def heldout_command(
    out: OutOpt = Path("eval/out"),
    fit: Annotated[
        bool, typer.Option("--fit", help="Fit the shipped confidence calibration on the fit split and save it.")
    ] = False,
    gate: GateOpt = False,
) -> None:
    """Customer-style questions (eval/heldout) drafted from the seeds; reported on the split nobody tuned on."""
    from service.drafting.calibration import shipped
    from service.evaluation import heldout
    from service.evaluation.heldout_report import CALIBRATION_PATH, save_calibration, write_report
    from service.evaluation.runner import FLOORS

    with err.status("Drafting the held-out questions from the seeds…"):
        outcomes = heldout.draft_all(get_settings())
    fitting = [o for o in outcomes if o.question["split"] == "fit"]
    reporting = [o for o in outcomes if o.question["split"] == "report"]
    calibration = shipped()
    if fit:
        settings = get_settings()
        views = {"ja": settings.evidence_view_ja, "en": settings.evidence_view_en}
        calibration = heldout.calibrate(fitting, "eval/heldout fit split", views)
        save_calibration(calibration, CALIBRATION_PATH)
        console.print(f"Calibration fitted on {len(fitting)} drafts, saved to {CALIBRATION_PATH}")
    result = heldout.report(reporting, calibration)
    paths = write_report(result, calibration, out)
    table = Table(title="eval heldout (report split)")
    table.add_column("metric")
    table.add_column("value")
    for key, value in result["metrics"].items():
        table.add_row(key, str(value))
    console.print(table)
    bands = Table(title="reliability: confidence band → share right")
    for column in ("band", "count", "right"):
        bands.add_column(column)
    for row in result["reliability"]:
        bands.add_row(row["band"], str(row["count"]), "-" if row["right"] is None else f"{row['right']:.2f}")
    console.print(bands)
    console.print("Flags: " + (", ".join(f"{k} {v}" for k, v in result["flags"].items()) or "none"))
    console.print("Report: " + ", ".join(str(p) for p in paths))
    if gate:
        from service.evaluation.report import gate_metrics

        failures = gate_metrics("heldout", result["metrics"], FLOORS)
        for failure in failures:
            err.print(f"[red]below floor[/red] {failure}")
        if failures:
            raise typer.Exit(1)
        console.print("All metrics at or above their floors.")


eval_app.command("holdout")(holdout)
