"""The library as a spreadsheet (xlsx or CSV) a team can bulk-edit, and back.

One row per canonical answer: its id, the entry it promotes, question, product, language,
choice, answer, owner, review-by and the rows it supersedes. On import a row with an `id`
updates that canonical answer (owner, review-by; a changed answer text becomes a written
answer); a row without one promotes `entry_id`. Every row is checked before anything changes:
one bad row (named by file and row number) and nothing is applied. `plan_import` is the
dry run: the diff, applied by `apply_import` only when asked.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from service.accounts.models import User
from service.export import safe_csv_value
from service.knowledge_base import Entry, Workspace
from service.library.canonical import (
    LIBRARY_SOURCE,
    LibraryError,
    canonical_answers,
    promote,
    set_review,
    superseded_by,
    write_answer,
)
from service.library.clusters import build_clusters
from service.library.models import CanonicalAnswer

if TYPE_CHECKING:
    from service.knowledge_base import KnowledgeBase

COLUMNS = ("id", "entry_id", "question", "product", "language", "choice", "answer", "owner", "review_by", "superseded")
_FORMULA_START = ("=", "+", "-", "@")


@dataclass
class RowChange:
    row: int  # 2 = the first row under the header, as a spreadsheet numbers it
    action: str  # "promote" | "update" | "unchanged"
    canonical_id: int | None
    entry_id: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (before, after)


def export_rows(session: Session, workspace: Workspace) -> list[dict[str, str]]:
    rows = []
    for canonical in canonical_answers(session, workspace):
        entry = session.get(Entry, canonical.entry_id)
        rows.append(
            {
                "id": str(canonical.id),
                "entry_id": canonical.entry_id,
                "question": entry.question if entry else "",
                "product": canonical.product or "",
                "language": entry.language if entry else "",
                "choice": (entry.choice_raw or entry.choice or "") if entry else "",
                "answer": entry.answer if entry else "",
                "owner": canonical.owner,
                "review_by": canonical.review_by.isoformat(),
                "superseded": " ".join(superseded_by(session, canonical)),
            }
        )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows({k: safe_csv_value(v) for k, v in row.items()} for row in rows)
    return out.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 CSV with a BOM as UTF-8


def to_xlsx(rows: list[dict[str, str]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "library"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([safe_csv_value(row[c]) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _unguard(value: str) -> str:
    """The export's formula guard ("'=...") taken off again."""
    return value[1:] if value.startswith("'") and value[1:2] in _FORMULA_START else value


def read_rows(name: str, data: bytes) -> list[dict[str, str]]:
    """Rows of an exported (and edited) library file, by header name. Raises LibraryError."""
    if name.lower().endswith(".xlsx"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the file's fault: a 4xx
            raise LibraryError(f"{name}: not a readable xlsx file ({exc.__class__.__name__})") from exc
        table = [["" if v is None else str(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
    elif name.lower().endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LibraryError(f"{name}: not UTF-8 text") from exc
        table = list(csv.reader(io.StringIO(text)))
    else:
        raise LibraryError(f"{name}: a library file is .xlsx or .csv")
    if not table:
        raise LibraryError(f"{name}: the file is empty")
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in ("id", "entry_id", "answer", "owner", "review_by") if c not in header]
    if missing:
        raise LibraryError(f"{name}: missing columns {', '.join(missing)} (export the library for the layout)")
    return [
        {h: _unguard(cells[i].strip()) if i < len(cells) else "" for i, h in enumerate(header)}
        for cells in table[1:]
        if any(c.strip() for c in cells)
    ]


def plan_import(session: Session, workspace: Workspace, name: str, data: bytes) -> list[RowChange]:
    """What importing the file would change, row by row. Raises LibraryError naming the first bad row."""
    plan: list[RowChange] = []
    for number, row in enumerate(read_rows(name, data), start=2):
        where = f"{name} row {number}"
        try:
            review_by = date.fromisoformat(row["review_by"]) if row["review_by"] else None
        except ValueError:
            raise LibraryError(f"{where}: review_by {row['review_by']!r} is not a date (YYYY-MM-DD)") from None
        if row["id"]:
            if not row["id"].isdigit():
                raise LibraryError(f"{where}: id {row['id']!r} is not a canonical answer number")
            canonical = session.get(CanonicalAnswer, int(row["id"]))
            if canonical is None or canonical.workspace_id != workspace.id:
                raise LibraryError(f"{where}: no canonical answer #{row['id']} in workspace '{workspace.name}'")
            entry = session.get(Entry, canonical.entry_id)
            change = RowChange(number, "update", canonical.id, canonical.entry_id)
            if row["owner"] != canonical.owner:
                change.changes["owner"] = (canonical.owner, row["owner"])
            if review_by and review_by != canonical.review_by:
                change.changes["review_by"] = (canonical.review_by.isoformat(), review_by.isoformat())
            if entry is not None and row["answer"] != entry.answer:
                change.changes["answer"] = (entry.answer, row["answer"])
            if not change.changes:
                change.action = "unchanged"
        else:
            entry = session.get(Entry, row["entry_id"]) if row["entry_id"] else None
            if entry is None or entry.workspace_id != workspace.id:
                raise LibraryError(f"{where}: no entry {row['entry_id']!r} in workspace '{workspace.name}' to promote")
            change = RowChange(number, "promote", None, entry.id, {"owner": ("", row["owner"])})
            if review_by:
                change.changes["review_by"] = ("", review_by.isoformat())
        plan.append(change)
    return plan


def apply_import(
    session: Session, kb: KnowledgeBase, workspace: Workspace, plan: list[RowChange], user: User | None
) -> bool:
    """Apply a plan from `plan_import` (in the caller's transaction: all rows or none).

    Returns whether a new entry was written (the caller then syncs the vector index after commit).
    """
    clusters = build_clusters(session, kb, workspace) if any(c.action == "promote" for c in plan) else None
    wrote = False
    for change in plan:
        review_by = date.fromisoformat(change.changes["review_by"][1]) if "review_by" in change.changes else None
        owner = change.changes["owner"][1] if "owner" in change.changes else None
        if change.action == "promote":
            promote(session, kb, workspace, change.entry_id, user, owner=owner, review_by=review_by, clusters=clusters)
        elif change.action == "update":
            canonical = session.get(CanonicalAnswer, change.canonical_id)
            if owner is not None or review_by is not None:
                set_review(session, workspace, canonical.id, user, owner=owner, review_by=review_by)
            if "answer" in change.changes:
                entry = session.get(Entry, canonical.entry_id)
                anchor = entry.locator.removeprefix("canonical:") if entry.source.name == LIBRARY_SOURCE else entry.id
                write_answer(
                    session,
                    kb,
                    workspace,
                    anchor,
                    change.changes["answer"][1],
                    user,
                    choice=entry.choice_raw or entry.choice or "",
                    product=canonical.product,
                    owner=canonical.owner,
                    review_by=canonical.review_by,
                )
                wrote = True
    return wrote
