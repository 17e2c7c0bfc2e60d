"""`kotae ingest`: past answered sheets and policies into the knowledge base."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from service.cli.common import WorkspaceOpt, console, db_session, err, progress, workspace_name
from service.ingest import SUPPORTED, IngestError
from service.knowledge_base import KnowledgeBase, SyncResult
from service.settings import get_settings


def expand(paths: list[Path]) -> list[Path]:
    """Folders become the supported files inside them; files are kept as given (missing ones fail later)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED))
        else:
            files.append(path)
    return files


def describe(exc: IngestError) -> str:
    return (
        exc.message
        + (f" (sheet '{exc.sheet}')" if exc.sheet else "")
        + (f" (row {exc.row})" if exc.row is not None else "")
    )


def say_who_can_open(workspace: str) -> None:
    """A workspace this command created belongs to nobody: the instance admins become its admins."""
    from service.accounts import adopt_workspace

    with db_session() as session:
        admins = adopt_workspace(session, workspace)
    if admins is None:
        return
    if admins:
        console.print(
            f"Workspace '{workspace}' is new: its admins are {', '.join(admins)} (the instance admins). "
            f"Others: kotae users role EMAIL --role reviewer -w {workspace}"
        )
    else:
        console.print(
            f"Workspace '{workspace}' is new and nobody can open it in the UI yet: "
            f"kotae users add EMAIL --role admin -w {workspace}"
        )


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of past answered sheets and policies.")],
    workspace: WorkspaceOpt = None,
    product: Annotated[str | None, typer.Option(help="Product these files answer for.")] = None,
) -> None:
    """Parse past answered sheets into the knowledge base.

    Re-ingesting a changed file replaces its entries; the same file unchanged is left as it is.
    """
    ws = workspace_name(workspace)
    kb = KnowledgeBase(get_settings())
    files = expand(paths)
    if not files:
        err.print(f"[red]No files found[/red] in {', '.join(map(str, paths))} (supported: {', '.join(SUPPORTED)})")
        raise typer.Exit(2)

    results: list[tuple[str, int, int, str]] = []  # file, entries, skipped rows, status
    skipped_rows: list[str] = []
    failures = 0
    synced: SyncResult | None = None
    with progress() as bar:
        task = bar.add_task("Reading files", total=len(files))
        for path in files:
            bar.update(task, description=f"Reading {path.name}")
            try:
                if not path.is_file():
                    raise IngestError(path.name, "no such file")
                # One transaction per file: a bad file never takes the others (or older data) with it.
                with db_session() as session:
                    summary = kb.ingest_file(session, ws, path, product=product)
                results.append((path.name, summary.entries, len(summary.skipped), summary.status))
                skipped_rows.extend(
                    f"{path.name}" + (f", sheet '{s.sheet}'" if s.sheet else "") + f", row {s.row}: {s.reason}"
                    for s in summary.skipped
                )
            except IngestError as exc:
                failures += 1
                results.append((path.name, 0, 0, f"[red]error[/red]: {escape(describe(exc))}"))
            bar.advance(task)

        # When every file failed nothing changed (and the workspace may not even exist): nothing to index.
        if failures < len(files):
            embed = bar.add_task("Embedding", total=None)
            with db_session() as session:
                synced = kb.sync(session, ws, lambda done, total: bar.update(embed, completed=done, total=total))

    table = Table(title=f"Ingested into workspace '{ws}'")
    for column in ("file", "entries", "skipped rows", "status"):
        table.add_column(column)
    for name, entries, skipped, status in results:
        table.add_row(escape(name), str(entries), str(skipped), status)
    console.print(table)
    if skipped_rows:
        console.print("[bold]Skipped rows[/bold]")
        for line in skipped_rows[:50]:
            console.print(f"  {escape(line)}")
        if len(skipped_rows) > 50:
            console.print(f"  … and {len(skipped_rows) - 50} more")
    total = sum(r[1] for r in results)
    console.print(f"{len(files)} files, {total} entries, {len(skipped_rows)} skipped rows, {failures} failed.")
    if synced is not None:
        console.print(
            f"Vector index: {synced.upserted} updated ({synced.embedded} embedded, {synced.cached} from cache), "
            f"{synced.removed} removed."
        )
        say_who_can_open(ws)
    if failures:
        raise typer.Exit(1)
