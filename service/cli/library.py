"""`kotae library`: the curated answer library (clusters, canonical answers, conflicts, due reviews)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from service.cli.common import (
    JsonFlag,
    WorkspaceOpt,
    console,
    db_session,
    fail,
    open_workspace,
    print_json,
    workspace_name,
)
from service.settings import get_settings

library_app = typer.Typer(
    help="Keep one true answer per control: conflicts, due reviews, import/export.", no_args_is_help=True
)

OwnerOpt = Annotated[str | None, typer.Option(help="Who keeps this answer true (default: nobody named).")]
ReviewByOpt = Annotated[str | None, typer.Option("--review-by", help="YYYY-MM-DD (default: in library_review_months).")]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--review-by {value!r} is not a date (YYYY-MM-DD)")


def _side(member: dict[str, Any]) -> str:
    choice = f"({member['choice']}) " if member["choice"] else ""
    product = f" [{member['product']}]" if member["product"] else ""
    head = f"{member['source']} {member['locator']}{product} · {member['date']}"
    return f"{head}\n{member['question'][:160]}\n→ {choice}{member['answer'][:300]}"


@library_app.command("conflicts")
def library_conflicts(
    workspace: WorkspaceOpt = None,
    as_json: JsonFlag = False,
    eval_labels: Annotated[
        bool, typer.Option("--eval-labels", help="Also score clusters and conflicts against eval/labels (seeds).")
    ] = False,
) -> None:
    """Clusters whose answers disagree (opposite choices, or a fact stated and denied), side by side."""
    from service.knowledge_base import KnowledgeBase
    from service.library import CONFLICTING, build_clusters, cluster_json, library_pairwise

    ws_name = workspace_name(workspace)
    kb = KnowledgeBase(get_settings())
    with db_session() as session:
        ws = open_workspace(session, ws_name, with_entries=True)
        clusters = build_clusters(session, kb, ws)
        conflicting = [cluster_json(c) for c in clusters if c.state == CONFLICTING]
        scores = library_pairwise(clusters).as_dict() if eval_labels else None
    if as_json:
        print_json({"workspace": ws_name, "clusters": len(clusters), "conflicts": conflicting, "eval": scores})
        return
    for cluster in conflicting:
        table = Table(title=escape(f"cluster {cluster['id']}: {len(cluster['members'])} entries"), show_lines=True)
        table.add_column("why", max_width=6)
        table.add_column("one says", max_width=60)
        table.add_column("another says", max_width=60)
        for d in cluster["disagreements"]:
            table.add_row(d["reason"], escape(_side(d["first"])), escape(_side(d["second"])))
        console.print(table)
    console.print(f"{len(conflicting)} conflicting clusters of {len(clusters)}.")
    if scores is not None:
        console.print(
            f"clusters against eval/labels/seeds.json: pairwise precision {scores['pairwise_precision']:.2f}, "
            f"recall {scores['pairwise_recall']:.2f}; labelled conflicts found "
            f"{scores['conflicts_found']}/{scores['conflicts_labelled']}"
            + (f" (missed: {', '.join(scores['missed_conflicts'])})" if scores["missed_conflicts"] else "")
            + f"; {scores['unlabelled_disagreements']} reported pairs match no label."
        )


@library_app.command("promote")
def library_promote(
    entry_id: Annotated[str, typer.Argument(help="The entry id (kotae kb search --json shows it).")],
    workspace: WorkspaceOpt = None,
    owner: OwnerOpt = None,
    review_by: ReviewByOpt = None,
    note: Annotated[str, typer.Option(help="Why this answer (kept in the audit trail).")] = "",
    supersede: Annotated[
        list[str] | None,
        typer.Option("--supersede", help="Supersede only this entry (repeat it); default: the cluster."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an entry the canonical answer of its cluster; the other rows of its product stop winning."""
    from service.knowledge_base import Entry, KnowledgeBase
    from service.library import LibraryError, canonical_json, promote, superseded_by

    ws_name = workspace_name(workspace)
    kb = KnowledgeBase(get_settings())
    with db_session() as session:
        ws = open_workspace(session, ws_name, with_entries=True)
        try:
            canonical = promote(
                session, kb, ws, entry_id, None, owner=owner, review_by=_date(review_by), note=note, supersede=supersede
            )
        except LibraryError as exc:
            fail(str(exc))
        data = canonical_json(canonical, session.get(Entry, canonical.entry_id), superseded_by(session, canonical))
        # Shown so a reviewer sees what stops winning (and can `retire` a promotion that took too much).
        session_entry_refs = {
            i: f"{e.source.name} {e.locator}: {e.question[:60]}"
            for i in data["superseded"]
            if (e := session.get(Entry, i)) is not None
        }
    if as_json:
        print_json(data)
    else:
        for superseded in data["superseded"]:
            gone = session_entry_refs.get(superseded, superseded)
            console.print(f"  superseded: {escape(gone)}")
        console.print(
            f"canonical answer #{data['id']}: {len(data['superseded'])} entries superseded; "
            f"review by {data['review_by']}" + (f", owner {data['owner']}" if data["owner"] else "")
        )


@library_app.command("retire")
def library_retire(canonical_id: int, workspace: WorkspaceOpt = None) -> None:
    """Withdraw a canonical answer: the rows it superseded speak again."""
    from service.library import LibraryError, retire

    with db_session() as session:
        ws = open_workspace(session, workspace_name(workspace))
        try:
            released = retire(session, ws, canonical_id, None)
        except LibraryError as exc:
            fail(str(exc))
    console.print(f"canonical answer #{canonical_id} withdrawn; {len(released)} entries speak again.")


@library_app.command("due")
def library_due(
    workspace: WorkspaceOpt = None,
    on: Annotated[str | None, typer.Option("--on", help="As of this date, YYYY-MM-DD (default: today).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Canonical answers whose review-by date has come, oldest first."""
    from service.knowledge_base import Entry
    from service.library import canonical_json, due, superseded_by

    with db_session() as session:
        ws = open_workspace(session, workspace_name(workspace))
        rows = [
            canonical_json(c, session.get(Entry, c.entry_id), superseded_by(session, c))
            for c in due(session, ws, _date(on))
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Canonical answers due for review")
    for column, width in (("#", 4), ("review by", 10), ("owner", 24), ("question", 50), ("answer", 50)):
        table.add_column(column, max_width=width)
    for row in rows:
        entry = row["entry"] or {"question": "(entry gone)", "answer": ""}
        table.add_row(
            str(row["id"]),
            row["review_by"],
            escape(row["owner"] or "-"),
            escape(entry["question"][:160]),
            escape(entry["answer"][:200]),
        )
    console.print(table)
    console.print(f"{len(rows)} due.")


@library_app.command("export")
def library_export(
    file: Annotated[Path, typer.Argument(help="Where to write: .xlsx or .csv.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the canonical answers to a spreadsheet to bulk-edit (re-import it with `library import`)."""
    from service.library.transfer import export_rows, to_csv, to_xlsx

    suffix = file.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        fail(f"{file}: a library file is .xlsx or .csv")
    with db_session() as session:
        rows = export_rows(session, open_workspace(session, workspace_name(workspace)))
    file.write_bytes(to_xlsx(rows) if suffix == ".xlsx" else to_csv(rows))
    console.print(f"{len(rows)} canonical answers written to {escape(str(file))}.")


@library_app.command("import")
def library_import(
    file: Annotated[Path, typer.Argument(help="An exported library file (.xlsx or .csv), edited.")],
    workspace: WorkspaceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply an edited library file: every row is checked first, and one bad row changes nothing."""
    from dataclasses import asdict

    from service.knowledge_base import KnowledgeBase
    from service.library import LibraryError
    from service.library.transfer import apply_import, plan_import

    if not file.is_file():
        fail(f"{file}: no such file")
    ws_name = workspace_name(workspace)
    kb = KnowledgeBase(get_settings())
    with db_session() as session:
        ws = open_workspace(session, ws_name)
        try:
            plan = plan_import(session, ws, file.name, file.read_bytes())
            wrote = False if dry_run else apply_import(session, kb, ws, plan, None)
        except LibraryError as exc:
            fail(str(exc))
    if wrote:
        with db_session() as session:
            kb.sync(session, ws_name)
    changed = [c for c in plan if c.action != "unchanged"]
    if as_json:
        print_json({"dry_run": dry_run, "rows": [asdict(c) for c in plan]})
        return
    for change in changed:
        what = ", ".join(f"{k}: {before!r} → {after!r}" for k, (before, after) in change.changes.items())
        console.print(f"row {change.row}: {change.action} {change.canonical_id or change.entry_id}: {escape(what)}")
    verb = "would change" if dry_run else "changed"
    console.print(f"{len(changed)} of {len(plan)} rows {verb}.")
