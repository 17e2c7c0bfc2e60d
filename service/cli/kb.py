"""`kotae kb`: inspect, search and check the knowledge base."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from service.cli.common import (
    JsonFlag,
    WorkspaceOpt,
    console,
    db_session,
    err,
    fail,
    open_workspace,
    print_json,
    progress,
    workspace_name,
)
from service.settings import get_settings

# The knowledge base (SQLAlchemy, and through it the models) loads in the commands that use it:
# `kotae --help` stays fast.
if TYPE_CHECKING:
    from service.knowledge_base import Entry
    from service.knowledge_base.indexing import Drift

kb_app = typer.Typer(help="Inspect and search the knowledge base.", no_args_is_help=True)


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source.name,
        "sheet": entry.sheet,
        "row": entry.row,
        "locator": entry.locator,
        "section": entry.section,
        "product": entry.product,
        "language": entry.language,
        "question": entry.question,
        "choice": entry.choice,
        "answer": entry.answer,
        "notes": entry.notes,
        "sheet_date": entry.sheet_date.isoformat() if entry.sheet_date else None,
    }


def entry_table(title: str, ranked: bool) -> Table:
    """Entries as a table; `ranked` (a search) adds each one's rank and fused score."""
    table = Table(title=escape(title), show_lines=True)
    columns = (("#", 3), ("score", 6)) if ranked else ()
    for column, width in (*columns, ("source / locator", 24), ("question", 50), ("answer", 60)):
        table.add_column(column, max_width=width)
    return table


def add_entry_row(table: Table, entry: Entry, *ranked: str) -> None:
    table.add_row(
        *ranked,
        escape(f"{entry.source.name}\n{entry.locator}" + (f"\n[{entry.product}]" if entry.product else "")),
        escape(entry.question[:160]),
        escape((f"({entry.choice}) " if entry.choice else "") + entry.answer[:200]),
    )


@kb_app.command("stats")
def kb_stats(workspace: WorkspaceOpt = None, as_json: JsonFlag = False) -> None:
    """What the knowledge base holds: sources, entries, products, languages."""
    from service.knowledge_base import SourceContents, list_sources, source_contents

    ws_name = workspace_name(workspace)
    with db_session() as session:
        ws = open_workspace(session, ws_name)
        contents = source_contents(session, ws)
        languages: Counter[str] = Counter()
        sources: list[dict[str, Any]] = []
        for source, count in list_sources(session, ws):
            held = contents.get(source.id, SourceContents(Counter(), []))
            languages.update(held.languages)
            sources.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "entries": count,
                    "products": held.products,
                    "sheet_date": source.sheet_date.isoformat() if source.sheet_date else None,
                    "ingested_at": source.ingested_at.isoformat(),
                }
            )
    total = sum(s["entries"] for s in sources)
    if as_json:
        print_json(
            {"workspace": ws_name, "entries": total, "languages": dict(sorted(languages.items())), "sources": sources}
        )
        return
    table = Table(title=escape(f"Workspace '{ws_name}'"))
    for column in ("source", "kind", "entries", "products", "sheet date", "ingested"):
        # A narrow terminal wraps a file name inside its cell instead of cutting it to "…".
        table.add_column(column, overflow="fold")
    for s in sources:
        table.add_row(
            escape(s["name"]),
            s["kind"],
            str(s["entries"]),
            escape(", ".join(s["products"])) or "-",
            s["sheet_date"] or "-",
            s["ingested_at"][:16].replace("T", " "),
        )
    console.print(table)
    console.print(f"{total} entries; languages: " + ", ".join(f"{k} {v}" for k, v in sorted(languages.items())))


@kb_app.command("search")
def kb_search(
    text: Annotated[str, typer.Argument(help="A question, in Japanese or English.")],
    workspace: WorkspaceOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="How many entries.")] = 5,
    product: Annotated[str | None, typer.Option(help="Only entries for this product (and general ones).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Find the prior answers closest to a question (hybrid e5 + BM25). Exit 1 when nothing is found."""
    from service.knowledge_base import KnowledgeBase

    ws_name = workspace_name(workspace)
    kb = KnowledgeBase(get_settings())
    with db_session() as session:
        open_workspace(session, ws_name)
        hits = kb.search(session, ws_name, text, k=k, product=product)
        if as_json:
            print_json(
                [{"rank": rank, "score": hit.score, **entry_json(hit.entry)} for rank, hit in enumerate(hits, 1)]
            )
        elif hits:
            table = entry_table(f"'{text}'", ranked=True)
            for rank, hit in enumerate(hits, start=1):
                add_entry_row(table, hit.entry, str(rank), f"{hit.score:.4f}")
            console.print(table)
    if not hits:
        err.print("Nothing found.")
        raise typer.Exit(1)


@kb_app.command("show")
def kb_show(
    locator: Annotated[str, typer.Argument(help="Item number as quoted in the sheet, e.g. No.19 or 6-8.")],
    source: Annotated[str | None, typer.Option(help="Part of the source file name.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the entries at a locator. Exit 1 when there are none."""
    from service.knowledge_base import entries_by_locator

    with db_session() as session:
        entries = entries_by_locator(session, open_workspace(session, workspace_name(workspace)), locator, source)
        if as_json:
            print_json([entry_json(entry) for entry in entries])
        elif entries:
            table = entry_table(locator, ranked=False)
            for entry in entries:
                add_entry_row(table, entry)
            console.print(table)
    if not entries:
        err.print(f"No entry at '{escape(locator)}'.")
        raise typer.Exit(1)


@kb_app.command("reindex")
def kb_reindex(workspace: WorkspaceOpt = None) -> None:
    """Rebuild the vector index of a workspace from the database."""
    from service.knowledge_base import KnowledgeBase

    kb = KnowledgeBase(get_settings())
    ws_name = workspace_name(workspace)
    with db_session() as session:
        open_workspace(session, ws_name)  # before dropping anything
    kb.vectors.drop(ws_name)
    with progress() as bar, db_session() as session:
        task = bar.add_task("Embedding", total=None)
        result = kb.sync(session, ws_name, lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"Reindexed: {result.upserted} entries ({result.embedded} embedded, {result.cached} from cache).")


@kb_app.command("delete-source")
def kb_delete_source(
    name: Annotated[str, typer.Argument(help="Source file name, as `kotae kb stats` lists it.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Remove one ingested file and its entries."""
    from service.knowledge_base import KnowledgeBase, delete_source

    kb = KnowledgeBase(get_settings())
    ws_name = workspace_name(workspace)
    with db_session() as session:
        ws = open_workspace(session, ws_name)
        try:
            removed = delete_source(session, ws, name)
        except LookupError as exc:
            fail(str(exc))
    # The vectors follow once the deletion is committed.
    with db_session() as session:
        kb.sync(session, ws_name)
    console.print(f"Removed {escape(name)}: {removed} entries.")


def drift_json(drift: Drift) -> dict[str, Any]:
    return {
        "workspace": drift.workspace,
        "entries": drift.entries,
        "drift": drift.found,
        "views": [
            {
                "view": v.view,
                "missing": len(v.missing),
                "orphaned": len(v.orphaned),
                "stale": len(v.stale),
                "uncached": v.uncached,
                # A few ids of each kind, to look up with `kotae kb show` or in the logs.
                "examples": {"missing": v.missing[:5], "orphaned": v.orphaned[:5], "stale": v.stale[:5]},
            }
            for v in drift.views
        ],
    }


def drift_table(drift: Drift, title: str) -> Table:
    table = Table(title=escape(title))
    for column in ("view", "entries without vectors", "vectors without entries", "stale vectors", "not cached"):
        table.add_column(column)
    for v in drift.views:
        table.add_row(escape(v.view), str(len(v.missing)), str(len(v.orphaned)), str(len(v.stale)), str(v.uncached))
    return table


@kb_app.command("check")
def kb_check(
    workspace: WorkspaceOpt = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Mend what is found: sync the index, fill the cache.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Compare the vector index and the embedding cache with the database. Exit 1 when drift is found.

    With --repair, exit 1 only when drift remains after the repair.
    Drift: entries without vectors, vectors without entries, vectors of an older text, texts not in the cache.
    """
    from service.knowledge_base import KnowledgeBase
    from service.knowledge_base.indexing import check_index, repair_index

    kb = KnowledgeBase(get_settings())
    ws_name = workspace_name(workspace)
    with db_session() as session:
        ws = open_workspace(session, ws_name)
        found = check_index(session, ws, kb.vectors)
    report: dict[str, Any] = {**drift_json(found), "repaired": None}
    after = found
    if repair and found.found:
        with db_session() as session:
            synced, recached = repair_index(session, open_workspace(session, ws_name), kb.vectors)
        with db_session() as session:
            after = check_index(session, open_workspace(session, ws_name), kb.vectors)
        report["repaired"] = {
            "upserted": synced.upserted,
            "removed": synced.removed,
            "embedded": synced.embedded + recached,
            "after": drift_json(after),
        }
    if as_json:
        print_json(report)
    else:
        console.print(drift_table(found, f"Workspace '{ws_name}': {found.entries} entries"))
        if report["repaired"]:
            done = report["repaired"]
            console.print(
                f"Repaired: {done['upserted']} vectors written, {done['removed']} removed, "
                f"{done['embedded']} texts embedded."
            )
            console.print(drift_table(after, "After the repair"))
        console.print("Drift found." if after.found else "In step: no drift.")
    if after.found:
        raise typer.Exit(1)
