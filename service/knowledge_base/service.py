"""Knowledge base operations on the database. They take the session and never commit."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from service.ingest import ParsedDocument, SkippedRow
from service.knowledge_base.models import Entry, Source, Workspace, utcnow
from service.knowledge_base.text import content_hash, passage_text

log = logging.getLogger(__name__)


class WorkspaceNotFound(LookupError):
    pass


class _Fitter:
    """Values from a file made storable in every database: NUL characters dropped (PostgreSQL cannot
    store them in text; no sheet means one) and short fields clipped to their column (PostgreSQL
    refuses an over-long VARCHAR, SQLite would keep it). Clips are counted and logged per file."""

    def __init__(self) -> None:
        self.clipped = 0

    def text(self, value: str) -> str:
        return value.replace("\x00", "") if "\x00" in value else value

    def short(self, value: str | None, size: int) -> str | None:
        if value is None:
            return None
        value = self.text(value)
        if len(value) > size:
            self.clipped += 1
            value = value[:size]
        return value


@dataclass
class SourceSummary:
    name: str
    entries: int
    skipped: list[SkippedRow] = field(default_factory=list)
    # "unchanged": the same bytes for the same product were stored already, and were left as they were.
    status: Literal["added", "replaced", "unchanged"] = "added"

    @property
    def replaced(self) -> bool:
        return self.status == "replaced"


def get_workspace(session: Session, name: str) -> Workspace:
    ws = session.scalar(select(Workspace).where(Workspace.name == name))
    if ws is None:
        raise WorkspaceNotFound(f"no workspace named '{name}'")
    return ws


def bump_revision(session: Session, workspace_id: int) -> None:
    """Mark the workspace's entries as changed, in one atomic UPDATE: two writers never lose an increment.

    Caches (lexical index, vector sync) compare the revision to know they are stale.
    """
    session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(revision=Workspace.revision + 1)
        .execution_options(synchronize_session=False)
    )
    loaded = session.identity_map.get(session.identity_key(Workspace, workspace_id))
    if loaded is not None:
        session.expire(loaded, ["revision"])


def get_or_create_workspace(session: Session, name: str) -> Workspace:
    ws = session.scalar(select(Workspace).where(Workspace.name == name))
    if ws is None:
        ws = Workspace(name=name, revision=0)
        session.add(ws)
        session.flush()
    return ws


def entry_id(workspace: str, source: str, sheet: str | None, locator: str, product: str | None, n: int) -> str:
    """Stable across re-ingests of the same file: citations to it keep pointing at the same row."""
    key = "\x1f".join([workspace, source, sheet or "", locator, product or "", str(n)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def replace_source(
    session: Session,
    workspace: Workspace,
    doc: ParsedDocument,
    *,
    data_sha256: str,
    product: str | None = None,
    now: datetime | None = None,
) -> SourceSummary:
    """Store a parsed file's entries, replacing what an earlier ingest of the same file stored.

    The same bytes for the same product are left alone (status "unchanged"): their entries, dates
    and the workspace revision stay as they were, so nothing downstream is rebuilt.
    Runs inside the caller's transaction: until it commits, the previous entries stay visible,
    and a failure leaves them as they were.
    """
    now = now or utcnow()
    skipped = list(doc.skipped)
    answered = []
    for item in doc.items:
        if item.answer or item.choice_raw:
            answered.append(item)
        else:
            skipped.append(SkippedRow(item.sheet, item.row, "no answer in this row"))

    existing = session.scalar(select(Source).where(Source.workspace_id == workspace.id, Source.name == doc.file))
    if existing is not None and existing.content_sha256 == data_sha256 and existing.product == product:
        stored = session.scalar(select(func.count()).select_from(Entry).where(Entry.source_id == existing.id)) or 0
        return SourceSummary(doc.file, stored, skipped, status="unchanged")
    if existing is not None:
        session.execute(delete(Entry).where(Entry.source_id == existing.id))
        session.delete(existing)
        session.flush()

    source = Source(
        workspace_id=workspace.id,
        name=doc.file,
        kind=doc.kind,
        title=_Fitter().short(doc.title, 500) or "",
        content_sha256=data_sha256,
        sheet_date=doc.sheet_date,
        product=product,
        ingested_at=now,
    )
    session.add(source)
    session.flush()

    seen: dict[tuple[str | None, str, str | None], int] = {}
    entries: list[Entry] = []
    fit = _Fitter()
    for item in answered:
        item_product = item.product or product
        key = (item.sheet, item.locator, item_product)
        n = seen.get(key, 0)
        seen[key] = n + 1
        question, answer = fit.text(item.question), fit.text(item.answer or item.choice_raw)
        entries.append(
            Entry(
                id=entry_id(workspace.name, doc.file, item.sheet, item.locator, item_product, n),
                workspace_id=workspace.id,
                source_id=source.id,
                sheet=fit.short(item.sheet, 200),
                row=item.row,
                locator=fit.short(item.locator, 100),
                section=[fit.text(s) for s in item.section],
                question=question,
                choice=fit.short(item.choice, 8),
                choice_raw=fit.short(item.choice_raw, 100),
                answer=answer,
                notes=fit.text(item.notes),
                product=fit.short(item_product, 200),
                language=fit.short(item.language, 8),
                sheet_date=doc.sheet_date,
                ingested_at=now,
                content_hash=content_hash(passage_text(question, answer)),
            )
        )
    if fit.clipped:
        log.warning("%s: %d values were longer than their column and were clipped", doc.file, fit.clipped)
    session.add_all(entries)
    session.flush()
    bump_revision(session, workspace.id)
    return SourceSummary(doc.file, len(entries), skipped, status="added" if existing is None else "replaced")


def delete_source(session: Session, workspace: Workspace, name: str) -> int:
    source = session.scalar(select(Source).where(Source.workspace_id == workspace.id, Source.name == name))
    if source is None:
        raise LookupError(f"no source named '{name}' in workspace '{workspace.name}'")
    count = session.scalar(select(func.count()).select_from(Entry).where(Entry.source_id == source.id)) or 0
    session.execute(delete(Entry).where(Entry.source_id == source.id))
    session.delete(source)
    session.flush()
    bump_revision(session, workspace.id)
    return count


def list_sources(session: Session, workspace: Workspace) -> list[tuple[Source, int]]:
    rows = session.execute(
        select(Source, func.count(Entry.id))
        .outerjoin(Entry, Entry.source_id == Source.id)
        .where(Source.workspace_id == workspace.id)
        .group_by(Source.id)
        .order_by(Source.name)
    ).all()
    return [(source, count) for source, count in rows]


@dataclass
class SourceContents:
    """What `kotae kb stats` shows of a source: counted by the database, no entry loaded."""

    languages: Counter[str]
    products: list[str]


def source_contents(session: Session, workspace: Workspace) -> dict[int, SourceContents]:
    """Entries per language and the products named, per source id of the workspace."""
    found: dict[int, SourceContents] = {}
    in_workspace = Entry.workspace_id == workspace.id
    by_language = select(Entry.source_id, Entry.language, func.count()).where(in_workspace)
    for source_id, language, count in session.execute(by_language.group_by(Entry.source_id, Entry.language)):
        found.setdefault(source_id, SourceContents(Counter(), [])).languages[language] = count
    products = select(Entry.source_id, Entry.product).where(in_workspace, Entry.product.is_not(None)).distinct()
    for source_id, product in session.execute(products.order_by(Entry.source_id, Entry.product)):
        if product:
            found.setdefault(source_id, SourceContents(Counter(), [])).products.append(product)
    return found


def entries_by_locator(session: Session, workspace: Workspace, locator: str, source: str | None = None) -> list[Entry]:
    """Entries a person would quote as e.g. 'No.19' or '6-8' (optionally within one file)."""
    wanted = {locator, f"No.{locator}", locator.removeprefix("No.").removeprefix("No")}
    query = (
        select(Entry)
        .join(Source)
        .where(Entry.workspace_id == workspace.id, Entry.locator.in_(wanted))
        .options(selectinload(Entry.source))
        .order_by(Source.name, Entry.row, Entry.product)
    )
    if source:
        query = query.where(Source.name.contains(source))
    return list(session.scalars(query))


def list_entries(session: Session, workspace: Workspace, limit: int, offset: int = 0) -> list[Entry]:
    """A page of a workspace's entries in file and row order."""
    query = (
        select(Entry)
        .where(Entry.workspace_id == workspace.id)
        .options(selectinload(Entry.source))
        .order_by(Entry.source_id, Entry.row, Entry.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(query))
