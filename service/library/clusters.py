"""Answer clusters: knowledge-base entries that answer the same control, in other words,
across sheets, languages and products; and whether they agree.

Signal: the mean cosine over every vector view the index keeps (e5 asymmetric, e5 symmetric
and multilingual USE by default), read from the embedding cache the index was synced from, so
building the library view embeds nothing new after `kotae ingest`. Grouping: complete linkage
(every pair of a cluster must be this close), which does not chain unrelated rows through one
broad answer the way single linkage does. Measured against the control groups of
eval/labels/seeds.json (pairwise F1): the three-view mean beat any single view (0.56 against
0.44-0.51), complete linkage beat average linkage, and 0.69 was the best floor
(`library_pairwise` reports it).

State of a cluster: `one-off` (one live member), `conflicting` (two live members of the same
product give opposite Yes/No choices, or their texts disagree: a fact stated and denied, a thing
offered and not offered, different retention periods; see disagree.py), else `consistent`.
Superseded rows take no part: once a canonical answer is set, its cluster is consistent again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.knowledge_base import Entry, Workspace
from service.knowledge_base.corpus import superseded_ids
from service.knowledge_base.indexing import embed_cached, view_text
from service.library.disagree import text_disagreement
from service.retrieval import product_matches

if TYPE_CHECKING:
    from service.knowledge_base import KnowledgeBase

SIMILARITY_FLOOR = 0.69  # complete linkage: the least similar pair of a cluster is at least this close
CONSISTENT = "consistent"
CONFLICTING = "conflicting"
ONE_OFF = "one-off"


@dataclass
class Disagreement:
    """Two live members of a cluster that disagree, and how."""

    first: Entry
    second: Entry
    reason: str  # "choice" (yes against no), or "facts" / "offered" / "period" (service/library/disagree.py)


@dataclass
class Cluster:
    id: str  # stable while the membership is: a hash of the member ids
    members: list[Entry]
    superseded: set[str] = field(default_factory=set)
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def live(self) -> list[Entry]:
        return [e for e in self.members if e.id not in self.superseded]

    @property
    def state(self) -> str:
        if self.disagreements:
            return CONFLICTING
        return ONE_OFF if len(self.live) <= 1 else CONSISTENT


def entry_vectors(session: Session, kb: KnowledgeBase, entries: list[Entry]) -> list[np.ndarray]:
    """Unit vectors per view kept by the index, from the embedding cache (computed only if missing)."""
    per_view: list[np.ndarray] = []
    for name in kb.vectors.distinct_views():
        view = kb.vectors.views[name]
        vectors, _ = embed_cached(session, view, [view_text(view, e) for e in entries], {})
        matrix = np.asarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        per_view.append(matrix / norms)
    return per_view  # one (entries, dim) matrix per view: dimensions differ between models


def similarity_matrix(vectors: list[np.ndarray]) -> np.ndarray:
    """Mean cosine over views."""
    return np.mean([v @ v.T for v in vectors], axis=0)


def complete_linkage(similarity: np.ndarray, floor: float) -> list[list[int]]:
    """Groups whose every pair is at least `floor` similar, merged most-similar first.

    O(n²) memory and O(n³) time at worst: fine for a few thousand entries; a workspace of tens
    of thousands would need a nearest-neighbour prefilter first.
    """
    n = len(similarity)
    sim = similarity.astype(np.float64, copy=True)
    np.fill_diagonal(sim, -np.inf)
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}
    while len(groups) > 1:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if sim[a, b] < floor:
            break
        # Lance-Williams for complete linkage: the new group is as close as its farthest member.
        merged = np.minimum(sim[a], sim[b])
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        groups[a].extend(groups.pop(b))
    return [sorted(g) for g in groups.values()]


def _same_product(a: Entry, b: Entry) -> bool:
    if not a.product or not b.product:
        return True
    return product_matches(a.product, b.product) or product_matches(b.product, a.product)


def disagreements(members: list[Entry]) -> list[Disagreement]:
    """Pairs of members (of the same product) whose choices or stated facts are opposite."""
    found: list[Disagreement] = []
    for i, first in enumerate(members):
        for second in members[i + 1 :]:
            if not _same_product(first, second):
                continue  # products may differ on purpose: each gets its own canonical answer
            if {first.choice, second.choice} == {"yes", "no"}:
                found.append(Disagreement(first, second, "choice"))
                continue
            question = f"{first.question}\n{second.question}"
            reason = text_disagreement(question, f"{first.answer}\n{first.notes}", f"{second.answer}\n{second.notes}")
            if reason:
                found.append(Disagreement(first, second, reason))
    return found


def _cluster_id(members: list[Entry]) -> str:
    return hashlib.sha256("\x1f".join(sorted(e.id for e in members)).encode()).hexdigest()[:12]


def build_clusters(
    session: Session, kb: KnowledgeBase, workspace: Workspace, floor: float = SIMILARITY_FLOOR
) -> list[Cluster]:
    """Every entry of the workspace in exactly one cluster, largest clusters first."""
    entries = list(
        session.scalars(
            select(Entry)
            .where(Entry.workspace_id == workspace.id)
            .order_by(Entry.id)
            .options(selectinload(Entry.source))
        )
    )
    if not entries:
        return []
    groups = complete_linkage(similarity_matrix(entry_vectors(session, kb, entries)), floor)
    hidden = superseded_ids(session, workspace.id)
    clusters: list[Cluster] = []
    for group in groups:
        members = [entries[i] for i in group]
        cluster = Cluster(_cluster_id(members), members, {e.id for e in members if e.id in hidden})
        cluster.disagreements = disagreements(cluster.live)
        clusters.append(cluster)
    clusters.sort(key=lambda c: (-len(c.members), c.id))
    return clusters


def cluster_of(clusters: list[Cluster], entry_id: str) -> Cluster | None:
    return next((c for c in clusters if any(e.id == entry_id for e in c.members)), None)
