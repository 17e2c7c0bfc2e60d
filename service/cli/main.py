"""`kotae` command line: a thin layer over the core."""

from __future__ import annotations

import os

# Before chromadb is imported anywhere: no telemetry, and nothing reaches for the network.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import json  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from service.db import session_scope  # noqa: E402
from service.drafting import NO_EVIDENCE, draft_questionnaire, get_drafter, read_questionnaire  # noqa: E402
from service.export import FILLABLE, ExportError, fill, to_json  # noqa: E402
from service.ingest import SUPPORTED, IngestError  # noqa: E402
from service.knowledge_base import (  # noqa: E402
    KnowledgeBase,
    WorkspaceNotFound,
    delete_source,
    entries_by_locator,
    get_workspace,
    list_sources,
)
from service.settings import get_settings  # noqa: E402

app = typer.Typer(help="Kotae drafts answers to security questionnaires from your past answers.", no_args_is_help=True)
kb_app = typer.Typer(help="Inspect and search the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(users_app, name="users")

console = Console()
err = Console(stderr=True)

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", help="Workspace (default: KOTAE_WORKSPACE).")]


def _workspace(name: str | None) -> str:
    return name or get_settings().workspace


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED))
        else:
            files.append(path)
    return files


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of past answered sheets and policies.")],
    workspace: WorkspaceOpt = None,
    product: Annotated[str | None, typer.Option(help="Product these files answer for.")] = None,
) -> None:
    """Parse past answered sheets into the knowledge base (re-ingesting a file replaces it)."""
    settings = get_settings()
    ws = _workspace(workspace)
    kb = KnowledgeBase(settings)
    files = _expand(paths)
    if not files:
        err.print(f"[red]No files found[/red] in {', '.join(map(str, paths))} (supported: {', '.join(SUPPORTED)})")
        raise typer.Exit(2)

    results: list[tuple[str, int, int, str]] = []
    skipped_rows: list[str] = []
    failures = 0
    with _progress() as progress:
        task = progress.add_task("Reading files", total=len(files))
        for path in files:
            progress.update(task, description=f"Reading {path.name}")
            try:
                if not path.is_file():
                    raise IngestError(path.name, "no such file")
                # One transaction per file: a bad file never takes the others (or older data) with it.
                with session_scope(settings.resolved_database_url) as session:
                    summary = kb.ingest_file(session, ws, path, product=product)
                status = "replaced" if summary.replaced else "added"
                results.append((path.name, summary.entries, len(summary.skipped), status))
                skipped_rows.extend(
                    f"{path.name}" + (f", sheet '{s.sheet}'" if s.sheet else "") + f", row {s.row}: {s.reason}"
                    for s in summary.skipped
                )
            except IngestError as exc:
                failures += 1
                results.append(
                    (
                        path.name,
                        0,
                        0,
                        f"[red]error[/red]: {exc.message}"
                        + (f" (sheet '{exc.sheet}')" if exc.sheet else "")
                        + (f" (row {exc.row})" if exc.row is not None else ""),
                    )
                )
            progress.advance(task)

        embed = progress.add_task("Embedding", total=None)

        def report(done: int, total: int) -> None:
            progress.update(embed, completed=done, total=total)

        with session_scope(settings.resolved_database_url) as session:
            try:
                synced = kb.sync(session, ws, report)
            except WorkspaceNotFound:
                synced = None

    table = Table(title=f"Ingested into workspace '{ws}'")
    for column in ("file", "entries", "skipped rows", "status"):
        table.add_column(column)
    for name, entries, skipped, status in results:
        table.add_row(name, str(entries), str(skipped), status)
    console.print(table)
    if skipped_rows:
        console.print("[bold]Skipped rows[/bold]")
        for line in skipped_rows[:50]:
            console.print(f"  {line}")
        if len(skipped_rows) > 50:
            console.print(f"  … and {len(skipped_rows) - 50} more")
    total = sum(r[1] for r in results)
    console.print(f"{len(files)} files, {total} entries, {len(skipped_rows)} skipped rows, {failures} failed.")
    if synced is not None:
        console.print(
            f"Vector index: {synced.upserted} updated ({synced.embedded} embedded, {synced.cached} from cache), "
            f"{synced.removed} removed."
        )
    if failures:
        raise typer.Exit(1)


@app.command()
def draft(
    file: Annotated[Path, typer.Argument(help="The customer's questionnaire (xlsx, csv, docx, md/txt).")],
    workspace: WorkspaceOpt = None,
    product: Annotated[str | None, typer.Option(help="Answer for this product.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the filled questionnaire here.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the drafts as JSON here.")] = None,
) -> None:
    """Draft answers to a questionnaire from the knowledge base, with citations."""
    settings = get_settings()
    kb = KnowledgeBase(settings)
    ws = _workspace(workspace)
    if output is not None and output.suffix.lower() != file.suffix.lower():
        err.print(f"[red]The filled file keeps the original's type:[/red] use a '{file.suffix}' name for -o.")
        raise typer.Exit(2)
    if output is not None and file.suffix.lower() not in FILLABLE:
        err.print(
            f"[red]Cannot write answers into '{file.suffix}'[/red]; use --json (fillable: {', '.join(FILLABLE)})."
        )
        raise typer.Exit(2)
    try:
        if not file.is_file():
            raise IngestError(file.name, "no such file")
        questionnaire = read_questionnaire(file.name, file.read_bytes(), kb.limits)
    except IngestError as exc:
        err.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None

    drafter = get_drafter(kb)
    with _progress() as progress, session_scope(settings.resolved_database_url) as session:
        task = progress.add_task(f"Drafting {file.name}", total=len(questionnaire.items))
        drafts = draft_questionnaire(
            session,
            drafter,
            ws,
            questionnaire,
            product,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )

    table = Table(title=f"{file.name}: {len(drafts)} questions")
    for column, width in (("ref", 14), ("question", 44), ("choice", 8), ("conf.", 5), ("cited", 30)):
        table.add_column(column, max_width=width)
    for d in drafts:
        cited = "; ".join(f"{c.source} {c.locator}" for c in d.citations) or "-"
        status = "[red]no evidence[/red]" if d.status == NO_EVIDENCE else (d.choice or "")
        table.add_row(d.ref, d.question[:120], status, f"{d.confidence:.2f}", cited)
    console.print(table)
    abstained = sum(1 for d in drafts if d.status == NO_EVIDENCE)
    fallbacks = sum(1 for d in drafts if d.drafter == "offline_fallback")
    console.print(
        f"{len(drafts) - abstained} drafted, {abstained} without evidence"
        + (f", {fallbacks} from the offline drafter after an unusable LLM reply" if fallbacks else "")
        + "."
    )
    if hasattr(drafter, "prompt_tokens"):
        console.print(f"LLM tokens: {drafter.prompt_tokens} prompt, {drafter.completion_tokens} completion.")

    if json_out is not None:
        json_out.write_text(json.dumps(to_json(questionnaire, drafts), ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"JSON written to {json_out}")
    if output is not None:
        try:
            output.write_bytes(fill(questionnaire, drafts))
        except ExportError as exc:
            err.print(f"[red]error[/red]: {exc}")
            raise typer.Exit(1) from None
        console.print(f"Filled questionnaire written to {output}")


@kb_app.command("stats")
def kb_stats(workspace: WorkspaceOpt = None) -> None:
    """What the knowledge base holds: sources, entries, products, languages."""
    settings = get_settings()
    ws_name = _workspace(workspace)
    with session_scope(settings.resolved_database_url) as session:
        try:
            ws = get_workspace(session, ws_name)
        except WorkspaceNotFound:
            err.print(f"Workspace '{ws_name}' is empty: run `kotae ingest PATH` first.")
            raise typer.Exit(1) from None
        table = Table(title=f"Workspace '{ws_name}'")
        for column in ("source", "kind", "entries", "products", "sheet date", "ingested"):
            table.add_column(column)
        total = 0
        for source, count in list_sources(session, ws):
            products = sorted({e.product for e in source.entries if e.product})
            table.add_row(
                source.name,
                source.kind,
                str(count),
                ", ".join(products) or "-",
                str(source.sheet_date or "-"),
                source.ingested_at.strftime("%Y-%m-%d %H:%M"),
            )
            total += count
        console.print(table)
        langs: dict[str, int] = {}
        for source, _ in list_sources(session, ws):
            for entry in source.entries:
                langs[entry.language] = langs.get(entry.language, 0) + 1
        console.print(f"{total} entries; languages: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items())))


def _entry_row(table: Table, rank: str, score: str, entry) -> None:  # noqa: ANN001
    table.add_row(
        rank,
        score,
        f"{entry.source.name}\n{entry.locator}" + (f"\n[{entry.product}]" if entry.product else ""),
        entry.question[:160],
        (f"({entry.choice}) " if entry.choice else "") + entry.answer[:200],
    )


def _entry_table(title: str) -> Table:
    table = Table(title=title, show_lines=True)
    for column, width in (("#", 3), ("score", 6), ("source / locator", 24), ("question", 50), ("answer", 60)):
        table.add_column(column, max_width=width)
    return table


@kb_app.command("search")
def kb_search(
    text: Annotated[str, typer.Argument(help="A question, in Japanese or English.")],
    workspace: WorkspaceOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="How many entries.")] = 5,
    product: Annotated[str | None, typer.Option(help="Only entries for this product (and general ones).")] = None,
) -> None:
    """Find the prior answers closest to a question (hybrid e5 + BM25)."""
    settings = get_settings()
    kb = KnowledgeBase(settings)
    with session_scope(settings.resolved_database_url) as session:
        hits = kb.search(session, _workspace(workspace), text, k=k, product=product)
        if not hits:
            err.print("Nothing found (is the workspace ingested?).")
            raise typer.Exit(1)
        table = _entry_table(f"'{text}'")
        for rank, hit in enumerate(hits, start=1):
            _entry_row(table, str(rank), f"{hit.score:.4f}", hit.entry)
        console.print(table)


@kb_app.command("show")
def kb_show(
    locator: Annotated[str, typer.Argument(help="Item number as quoted in the sheet, e.g. No.19 or 6-8.")],
    source: Annotated[str | None, typer.Option(help="Part of the source file name.")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Show the entries at a locator."""
    settings = get_settings()
    with session_scope(settings.resolved_database_url) as session:
        ws = get_workspace(session, _workspace(workspace))
        entries = entries_by_locator(session, ws, locator, source)
        if not entries:
            err.print(f"No entry at '{locator}'.")
            raise typer.Exit(1)
        table = _entry_table(locator)
        for entry in entries:
            _entry_row(table, "", "", entry)
        console.print(table)


@kb_app.command("reindex")
def kb_reindex(workspace: WorkspaceOpt = None) -> None:
    """Rebuild the vector index of a workspace from the database."""
    settings = get_settings()
    kb = KnowledgeBase(settings)
    ws = _workspace(workspace)
    kb.vectors.drop(ws)
    with _progress() as progress, session_scope(settings.resolved_database_url) as session:
        task = progress.add_task("Embedding", total=None)
        result = kb.sync(session, ws, lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"Reindexed: {result.upserted} entries ({result.embedded} embedded, {result.cached} from cache).")


@kb_app.command("delete-source")
def kb_delete_source(
    name: Annotated[str, typer.Argument(help="Source file name.")], workspace: WorkspaceOpt = None
) -> None:
    """Remove one ingested file and its entries."""
    settings = get_settings()
    kb = KnowledgeBase(settings)
    ws_name = _workspace(workspace)
    with session_scope(settings.resolved_database_url) as session:
        try:
            removed = delete_source(session, get_workspace(session, ws_name), name)
        except LookupError as exc:
            err.print(str(exc))
            raise typer.Exit(1) from None
    with session_scope(settings.resolved_database_url) as session:
        kb.sync(session, ws_name)
    console.print(f"Removed {name}: {removed} entries.")


@app.command("eval")
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
    from service.evaluation import report, run
    from service.evaluation.runner import ROOT

    if set_name not in ("seeds", "samples"):
        err.print("set must be 'seeds' or 'samples'")
        raise typer.Exit(2)
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
        failures = report.gate(result, ROOT / "eval" / "floors.json")
        if failures:
            for failure in failures:
                err.print(f"[red]below floor[/red] {failure}")
            raise typer.Exit(1)
        console.print("All metrics at or above their floors.")


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The user's email (their login).")],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace to give a role in.")] = "default",
    role: Annotated[str, typer.Option(help="admin, reviewer or viewer.")] = "admin",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[
        str | None, typer.Option(envvar="KOTAE_NEW_USER_PASSWORD", help="Default: asked for, hidden.")
    ] = None,
    token: Annotated[bool, typer.Option("--token", help="Also print a new API token for the user.")] = False,
) -> None:
    """Create a user (the first admin, typically) with a role in a workspace."""
    from service.accounts.service import AccountError, create_token, create_user, set_role

    settings = get_settings()
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope(settings.resolved_database_url) as session:
            user = create_user(session, email, password, name)
            set_role(session, user, workspace, role)
            new_token = create_token(session, user, "cli") if token else None
    except AccountError as exc:
        err.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    console.print(f"User {email} created, {role} of workspace '{workspace}'.")
    if new_token:
        console.print(f"API token (shown once): {new_token}")


@app.command()
def worker(threads: Annotated[int, typer.Option(help="Batches drafted at once by this process.")] = 1) -> None:
    """Serve the drafting queue (scaled setup: KOTAE_QUEUE_URL, shared PostgreSQL and Chroma server)."""
    from service.jobs.queue import run_worker

    run_worker(threads)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Run the web app and API (OpenAPI docs at /docs)."""
    import uvicorn

    from service.api import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


if __name__ == "__main__":
    app()
