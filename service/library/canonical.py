"""Canonical answers: one current answer per cluster (and product), with an owner and a review-by date.

Promoting an entry supersedes the other live members of its cluster for the same product: they
stay stored (provenance, `kotae kb show`), but retrieval no longer returns them
(service/knowledge_base/corpus.py), so drafting cites the canonical answer. Every decision is
audited with the state before and after. Functions take the caller's session and never commit;
an answer written here is a new entry, which the caller syncs to the vector index after commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service import audit
from service.accounts.models import User
from service.ingest.choices import normalize_choice
from service.ingest.text import detect_language
from service.knowledge_base import Entry, Source, Workspace, bump_revision, entry_id
from service.knowledge_base.models import SupersededEntry, utcnow
from service.knowledge_base.text import content_hash, passage_text
from service.library.clusters import Cluster, build_clusters, cluster_of
from service.library.models import CanonicalAnswer
from service.retrieval import product_matches

if TYPE_CHECKING:
    from service.knowledge_base import KnowledgeBase

LIBRARY_SOURCE = "library"  # the source that holds answers written in the library itself


class LibraryError(ValueError):
    """A library action that cannot be done as asked (unknown entry, bad date ...): a 4xx, never a 5xx."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _covered(member: Entry, product: str | None) -> bool:
    """Whether a canonical answer for `product` speaks for this member."""
    if product is None:
        return not member.product
    return bool(member.product) and product_matches(member.product, product)


def _snapshot(canonical: CanonicalAnswer, superseded: list[str]) -> dict[str, Any]:
    return {
        "canonical_id": canonical.id,
        "entry_id": canonical.entry_id,
        "product": canonical.product,
        "owner": canonical.owner,
        "review_by": canonical.review_by.isoformat(),
        "superseded": sorted(superseded),
    }


def superseded_by(session: Session, canonical: CanonicalAnswer) -> list[str]:
    query = select(SupersededEntry.entry_id).where(SupersededEntry.canonical_id == canonical.id)
    return sorted(session.scalars(query))


def canonical_answers(session: Session, workspace: Workspace) -> list[CanonicalAnswer]:
    query = select(CanonicalAnswer).where(CanonicalAnswer.workspace_id == workspace.id)
    return list(session.scalars(query.order_by(CanonicalAnswer.review_by, CanonicalAnswer.id)))


def _release(session: Session, canonical: CanonicalAnswer) -> list[str]:
    """Drop a canonical answer and un-supersede what it superseded; returns those entry ids."""
    released = superseded_by(session, canonical)
    session.execute(delete(SupersededEntry).where(SupersededEntry.canonical_id == canonical.id))
    session.delete(canonical)
    session.flush()
    return released


def promote(
    session: Session,
    kb: KnowledgeBase,
    workspace: Workspace,
    promoted_id: str,
    user: User | None,
    *,
    owner: str | None = None,
    review_by: date | None = None,
    note: str = "",
    clusters: list[Cluster] | None = None,
    supersede: Collection[str] | None = None,
) -> CanonicalAnswer:
    """Make one entry the canonical answer of its cluster for its product; the other members of
    that product are superseded. A canonical answer set earlier for the same cluster and product
    is replaced (and audited as such).

    `supersede`: exactly these entries instead of the whole cluster. Clusters group by control
    and can hold neighbouring controls (encryption at rest beside encryption in transit): the
    conflict page supersedes only the side a reviewer overruled.
    """
    entry = session.get(Entry, promoted_id)
    if entry is None or entry.workspace_id != workspace.id:
        raise LibraryError(f"no entry {promoted_id!r} in workspace '{workspace.name}'")
    clusters = clusters if clusters is not None else build_clusters(session, kb, workspace)
    cluster = cluster_of(clusters, entry.id)
    members = cluster.members if cluster is not None else [entry]
    product = entry.product or None
    member_ids = {m.id for m in members}
    earlier = [
        c
        for c in canonical_answers(session, workspace)
        if (c.product or None) == product and (c.entry_id in member_ids or c.entry_id == entry.id)
    ]
    before = [_snapshot(c, superseded_by(session, c)) for c in earlier]
    for old in earlier:
        _release(session, old)
    today = datetime.now(UTC).date()
    canonical = CanonicalAnswer(
        workspace_id=workspace.id,
        entry_id=entry.id,
        product=product,
        owner=owner or (user.email if user else ""),
        review_by=review_by or add_months(today, kb.settings.library_review_months),
        decided_by=user.id if user else None,
        note=note,
    )
    session.add(canonical)
    session.flush()
    # The promoted entry speaks again even if an earlier decision had superseded it.
    session.execute(
        delete(SupersededEntry).where(
            SupersededEntry.workspace_id == workspace.id, SupersededEntry.entry_id == entry.id
        )
    )
    if supersede is not None:
        unknown = [i for i in supersede if (e := session.get(Entry, i)) is None or e.workspace_id != workspace.id]
        if unknown:
            raise LibraryError(f"no entry {unknown[0]!r} in workspace '{workspace.name}' to supersede")
        others = sorted(set(supersede) - {entry.id})
    else:
        others = [m.id for m in members if m.id != entry.id and _covered(m, product)]
    if others:
        session.execute(
            delete(SupersededEntry).where(
                SupersededEntry.workspace_id == workspace.id, SupersededEntry.entry_id.in_(others)
            )
        )
        session.add_all(
            SupersededEntry(workspace_id=workspace.id, entry_id=i, canonical_id=canonical.id) for i in others
        )
    session.flush()
    bump_revision(session, workspace.id)
    audit.record(
        session,
        workspace.id,
        "library.promote",
        user,
        before={"replaced": before} if before else None,
        after=_snapshot(canonical, others),
    )
    return canonical


def write_answer(
    session: Session,
    kb: KnowledgeBase,
    workspace: Workspace,
    anchor_id: str,
    answer: str,
    user: User | None,
    *,
    choice: str = "",
    product: str | None = None,
    owner: str | None = None,
    review_by: date | None = None,
) -> CanonicalAnswer:
    """A reviewer writes the canonical answer of the cluster `anchor_id` belongs to.

    The answer is stored as a new entry (source `library`, the anchor's question) and promoted;
    the caller syncs the vector index after commit so retrieval can find it.
    """
    anchor = session.get(Entry, anchor_id)
    if anchor is None or anchor.workspace_id != workspace.id:
        raise LibraryError(f"no entry {anchor_id!r} in workspace '{workspace.name}'")
    if not answer.strip() and not choice.strip():
        raise LibraryError("a canonical answer needs an answer text or a choice")
    clusters = build_clusters(session, kb, workspace)
    source = session.scalar(select(Source).where(Source.workspace_id == workspace.id, Source.name == LIBRARY_SOURCE))
    if source is None:
        source = Source(workspace_id=workspace.id, name=LIBRARY_SOURCE, kind="library", content_sha256="")
        session.add(source)
        session.flush()
    product = product or anchor.product or None
    cluster = cluster_of(clusters, anchor.id)
    now = utcnow()
    new_id = entry_id(workspace.name, LIBRARY_SOURCE, None, f"canonical:{anchor.id}", product, 0)
    entry = session.get(Entry, new_id) or Entry(id=new_id, workspace_id=workspace.id, source_id=source.id)
    entry.row, entry.locator, entry.sheet, entry.section = 0, f"canonical:{anchor.id}", None, []
    entry.question, entry.answer, entry.notes = anchor.question, answer.strip(), ""
    entry.choice, entry.choice_raw = normalize_choice(choice) if choice else None, choice
    entry.product = product
    entry.language = detect_language(answer) if answer.strip() else anchor.language
    entry.sheet_date, entry.ingested_at = now.date(), now
    entry.content_hash = content_hash(passage_text(entry.question, entry.answer))
    entry.provenance = {"written_by": user.email if user else None, "written_at": now.isoformat()}
    session.add(entry)
    session.flush()
    if cluster is not None and entry not in cluster.members:
        cluster.members.append(entry)  # the new entry joins the anchor's cluster
    return promote(session, kb, workspace, entry.id, user, owner=owner, review_by=review_by, clusters=clusters)


def retire(session: Session, workspace: Workspace, canonical_id: int, user: User | None) -> list[str]:
    """Withdraw a canonical answer: what it superseded speaks again. Returns those entry ids."""
    canonical = session.get(CanonicalAnswer, canonical_id)
    if canonical is None or canonical.workspace_id != workspace.id:
        raise LibraryError(f"no canonical answer #{canonical_id} in workspace '{workspace.name}'")
    before = _snapshot(canonical, superseded_by(session, canonical))
    released = _release(session, canonical)
    bump_revision(session, workspace.id)
    audit.record(session, workspace.id, "library.retire", user, before=before)
    return released


def set_review(
    session: Session,
    workspace: Workspace,
    canonical_id: int,
    user: User | None,
    *,
    owner: str | None = None,
    review_by: date | None = None,
) -> CanonicalAnswer:
    """Change the owner or the review-by date (a review that found the answer still true)."""
    canonical = session.get(CanonicalAnswer, canonical_id)
    if canonical is None or canonical.workspace_id != workspace.id:
        raise LibraryError(f"no canonical answer #{canonical_id} in workspace '{workspace.name}'")
    before = {"owner": canonical.owner, "review_by": canonical.review_by.isoformat()}
    if owner is not None:
        canonical.owner = owner
    if review_by is not None:
        canonical.review_by = review_by
    canonical.updated_at = utcnow()
    session.flush()
    after = {"owner": canonical.owner, "review_by": canonical.review_by.isoformat()}
    audit.record(session, workspace.id, "library.review", user, before=before, after=after)
    return canonical


def due(session: Session, workspace: Workspace, today: date | None = None) -> list[CanonicalAnswer]:
    """Canonical answers whose review-by date has come, oldest first."""
    today = today or datetime.now(UTC).date()
    query = select(CanonicalAnswer).where(
        CanonicalAnswer.workspace_id == workspace.id, CanonicalAnswer.review_by <= today
    )
    return list(session.scalars(query.order_by(CanonicalAnswer.review_by, CanonicalAnswer.id)))


def canonical_review(session: Session, workspace_id: int, today: date | None = None) -> dict[str, bool]:
    """Each canonical answer's entry id -> whether its review-by date has passed.

    A canonical answer is as fresh as its last review, whatever the date of the sheet it came from:
    drafting flags a draft citing an overdue one, and no other canonical answer, as stale.
    """
    today = today or datetime.now(UTC).date()
    query = select(CanonicalAnswer.entry_id, CanonicalAnswer.review_by).where(
        CanonicalAnswer.workspace_id == workspace_id
    )
    return {entry_id: review_by is not None and review_by < today for entry_id, review_by in session.execute(query)}


def stale_canonical_ids(session: Session, workspace_id: int, today: date | None = None) -> set[str]:
    """Entry ids of canonical answers past their review-by date: drafts citing them should be flagged."""
    today = today or datetime.now(UTC).date()
    query = select(CanonicalAnswer.entry_id).where(
        CanonicalAnswer.workspace_id == workspace_id, CanonicalAnswer.review_by < today
    )
    return set(session.scalars(query))


def promote_item(session: Session, kb: KnowledgeBase, item: Any, user: User | None, **options: Any) -> CanonicalAnswer:
    """An approved questionnaire answer becomes canonical in one action (it is learned first)."""
    from service.library.learning import learn  # the same folder; imported here to keep the top light
    from service.questionnaires import APPROVED

    if item.status not in APPROVED:
        raise LibraryError(f"question {item.ref!r} is not approved (status {item.status}): approve it first")
    if user is None:
        raise LibraryError("promoting an approved answer needs the deciding user")
    entry = learn(session, item, user)
    if entry is None:  # the workspace held this very answer already: that entry is promoted
        wanted = " ".join((item.answer or item.choice or "").lower().split())
        same = session.scalars(
            select(Entry).where(Entry.workspace_id == item.questionnaire.workspace_id, Entry.question == item.question)
        )
        entry = next((e for e in same if " ".join(e.answer.lower().split()) == wanted), None)
        if entry is None:
            raise LibraryError(f"question {item.ref!r}: its approved answer is not in the knowledge base")
    workspace = session.get(Workspace, item.questionnaire.workspace_id)
    return promote(session, kb, workspace, entry.id, user, **options)
