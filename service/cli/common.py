"""What every `kotae` command shares: the consoles, the workspace option, a database session,
one-line errors and JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from service.settings import get_settings

# Imported where used: `kotae --help` and light commands never pay for SQLAlchemy or the knowledge base.
if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import Session

    from service.knowledge_base import Workspace

console = Console()
err = Console(stderr=True)

# Exit codes: 1 = the work failed, 2 = the command named something that is not there (or a usage error).
NOT_FOUND = 2

WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", help="Workspace (default: KOTAE_WORKSPACE).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")]


def workspace_name(name: str | None) -> str:
    return name or get_settings().workspace


@contextmanager
def db_session() -> Iterator[Session]:
    """One unit of work on the configured database: committed on success, rolled back on error."""
    from service.db import session_scope

    with session_scope(get_settings().resolved_database_url) as session:
        yield session


def fail(message: str, code: int = NOT_FOUND) -> NoReturn:
    """One line on stderr and the exit code; no traceback."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def open_workspace(session: Session, name: str, *, with_entries: bool = False) -> Workspace:
    """The named workspace, or a one-line error (exit 2) when it does not exist (or holds no entries)."""
    from service.knowledge_base import WorkspaceNotFound, get_workspace, list_sources

    try:
        workspace = get_workspace(session, name)
    except WorkspaceNotFound:
        fail(f"workspace '{name}' does not exist: ingest past answers into it first (kotae ingest PATH -w {name})")
    if with_entries and not any(count for _, count in list_sources(session, workspace)):
        fail(f"workspace '{name}' is empty: ingest past answers into it first (kotae ingest PATH -w {name})")
    return workspace


def print_json(data: Any) -> None:
    """Plain JSON on stdout, never wrapped or truncated, for pipes and scripts."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def progress() -> Progress:
    """A progress bar on stderr, so stdout stays clean for tables and JSON."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
