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

Cost: linkage.py groups component by component (no n x n matrix); the result is cached per
(database, workspace) with a fingerprint of its inputs, so the API, the pages and the CLI pay for
it once per change of the workspace (see `build_clusters`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.knowledge_base import Entry, Workspace
from service.knowledge_base.corpus import superseded_ids
from service.knowledge_base.indexing import embed_cached, view_text
from service.library import linkage
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
            one, other = f"{first.answer}\n{first.notes}", f"{second.answer}\n{second.notes}"
            reason = text_disagreement((one, first.question), (other, second.question))
            if reason:
                found.append(Disagreement(first, second, reason))
    return found


def _cluster_id(members: list[Entry]) -> str:
    return hashlib.sha256("\x1f".join(sorted(e.id for e in members)).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class _Grouping:
    """What `build_clusters` computed, as ids only: sessions and their rows are not shared."""

    fingerprint: str  # of every input: entry texts, choices, products, what is superseded
    groups: tuple[tuple[str, ...], ...]
    disagreements: tuple[tuple[tuple[str, str, str], ...], ...]  # per group: (first id, second id, reason)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


_CACHE: OrderedDict[tuple[object, ...], _Grouping] = OrderedDict()
_CACHE_SIZE = 16  # workspaces kept per process
_CACHE_LOCK = threading.Lock()
CLUSTER_CACHE_STATS = CacheStats()


def clear_cluster_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _fingerprint(entries: list[Entry], hidden: set[str]) -> str:
    digest = hashlib.sha256()
    for e in entries:
        digest.update(f"{e.id}\x1f{e.content_hash}\x1f{e.choice}\x1f{e.product}\x1f{e.notes}\x1e".encode())
    digest.update("\x1f".join(sorted(hidden)).encode())
    return digest.hexdigest()


def _group(
    session: Session, kb: KnowledgeBase, entries: list[Entry], hidden: set[str], floor: float, fingerprint: str
) -> _Grouping:
    groups = linkage.group(entry_vectors(session, kb, entries), floor)
    found = []
    for group in groups:
        live = [entries[i] for i in group if entries[i].id not in hidden]
        found.append(tuple((d.first.id, d.second.id, d.reason) for d in disagreements(live)))
    return _Grouping(fingerprint, tuple(tuple(entries[i].id for i in g) for g in groups), tuple(found))


def build_clusters(
    session: Session, kb: KnowledgeBase, workspace: Workspace, floor: float = SIMILARITY_FLOOR
) -> list[Cluster]:
    """Every entry of the workspace in exactly one cluster, largest clusters first.

    The grouping is cached per (database, workspace), with a fingerprint of its inputs: the rows are
    read again each time (one query) and a cached grouping is reused only for exactly the same
    entries, choices, products and superseded rows (the revision would add nothing: a rolled-back
    transaction can leave a revision number that is later reused for other contents).
    """
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
    hidden = superseded_ids(session, workspace.id)
    fingerprint = _fingerprint(entries, hidden)
    key = (str(session.get_bind().url), workspace.id, floor, tuple(kb.vectors.distinct_views()))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.fingerprint == fingerprint:
            _CACHE.move_to_end(key)
            CLUSTER_CACHE_STATS.hits += 1
        else:
            cached = None
            CLUSTER_CACHE_STATS.misses += 1
    if cached is None:  # computed outside the lock: two requests may both compute, neither waits
        cached = _group(session, kb, entries, hidden, floor, fingerprint)
        with _CACHE_LOCK:
            _CACHE[key] = cached
            _CACHE.move_to_end(key)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    by_id = {e.id: e for e in entries}
    clusters: list[Cluster] = []
    for group, found in zip(cached.groups, cached.disagreements, strict=True):
        members = [by_id[i] for i in group]
        cluster = Cluster(_cluster_id(members), members, {i for i in group if i in hidden})
        cluster.disagreements = [Disagreement(by_id[a], by_id[b], reason) for a, b, reason in found]
        clusters.append(cluster)
    clusters.sort(key=lambda c: (-len(c.members), c.id))
    return clusters


def cluster_of(clusters: list[Cluster], entry_id: str) -> Cluster | None:
    return next((c for c in clusters if any(e.id == entry_id for e in c.members)), None)
