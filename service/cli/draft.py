"""`kotae draft`: a customer's questionnaire drafted from the knowledge base, through the one pipeline."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from service.cli.common import WorkspaceOpt, console, db_session, err, fail, open_workspace, progress, workspace_name
from service.drafting import NO_EVIDENCE, draft_questionnaire, get_drafter
from service.export import FILLABLE, ExportError, fill, to_json
from service.ingest import IngestError
from service.knowledge_base import KnowledgeBase
from service.questionnaires import read_questionnaire
from service.settings import get_settings


def draft(
    file: Annotated[Path, typer.Argument(help="The customer's questionnaire (xlsx, csv, docx, md/txt).")],
    workspace: WorkspaceOpt = None,
    product: Annotated[str | None, typer.Option(help="Answer for this product.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the filled questionnaire here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the drafts as JSON to this file.")] = None,
    cite_in_sheet: Annotated[
        bool, typer.Option("--cite-in-sheet", help="Name the cited past sheets in the file's notes column.")
    ] = False,
    review_marks: Annotated[
        bool,
        typer.Option(
            "--review-marks/--no-review-marks",
            help="Colour and comment drafted cells (confidence, flags): a copy for internal review.",
        ),
    ] = True,
) -> None:
    """Draft answers to a questionnaire from the knowledge base, with citations."""
    kb = KnowledgeBase(get_settings())
    ws = workspace_name(workspace)
    if output is not None and output.suffix.lower() != file.suffix.lower():
        fail(f"the filled file keeps the original's type: use a '{file.suffix}' name for -o")
    if output is not None and file.suffix.lower() not in FILLABLE:
        fail(f"cannot write answers into '{file.suffix}'; use --json (fillable: {', '.join(FILLABLE)})")
    if not file.is_file():
        fail(f"{file}: no such file")

    drafter = get_drafter(kb)
    with db_session() as session:
        open_workspace(session, ws, with_entries=True)
        try:
            questionnaire = read_questionnaire(file.name, file.read_bytes(), kb.limits)
        except IngestError as exc:
            fail(str(exc), code=1)
        with progress() as bar:
            task = bar.add_task(f"Drafting {file.name}", total=len(questionnaire.items))
            drafts = draft_questionnaire(
                session,
                drafter,
                ws,
                questionnaire,
                product,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )

    table = Table(title=f"{escape(file.name)}: {len(drafts)} questions")
    for column, width in (("ref", 14), ("question", 44), ("choice", 8), ("conf.", 5), ("cited", 30)):
        table.add_column(column, max_width=width)
    for d in drafts:
        cited = "; ".join(f"{c.source} {c.locator}" for c in d.citations) or "-"
        status = "[red]no evidence[/red]" if d.status == NO_EVIDENCE else escape(d.choice or "")
        # No draft, nothing to trust: its probability (kept in the JSON) would read as a score here.
        confidence = "-" if d.status == NO_EVIDENCE else f"{d.confidence:.2f}"
        table.add_row(escape(d.ref), escape(d.question[:120]), status, confidence, escape(cited))
    console.print(table)
    abstained = sum(1 for d in drafts if d.status == NO_EVIDENCE)
    fallbacks = [d for d in drafts if d.drafter == "offline_fallback"]
    console.print(
        f"{len(drafts) - abstained} drafted, {abstained} without evidence"
        + (f", {len(fallbacks)} drafted offline because the LLM failed" if fallbacks else "")
        + "."
    )
    for reason, count in Counter(d.note for d in fallbacks).most_common():
        err.print(f"[yellow]{count} × {escape(reason)}[/yellow]")
    if hasattr(drafter, "prompt_tokens"):
        console.print(f"LLM tokens: {drafter.prompt_tokens} prompt, {drafter.completion_tokens} completion.")

    if json_out is not None:
        json_out.write_text(json.dumps(to_json(questionnaire, drafts), ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"JSON written to {json_out}")
    if output is not None:
        try:
            output.write_bytes(fill(questionnaire, drafts, marks=review_marks, cite=cite_in_sheet))
        except ExportError as exc:
            fail(str(exc), code=1)
        console.print(f"Filled questionnaire written to {output}")
