"""Keeping the vector index in step with the database, which is the source of truth.

`sync_vectors` compares, view by view, what the index holds (entry id + content hash) with the
entries, embeds only what is missing or changed (through the content-hash cache, keyed by the
view's model and encoding), and removes what is gone. Each view is brought up to date on its
own, in batches, so it is idempotent: after a crash half-way, running it again finishes the job.
New vectors reach the cache chunk by chunk, each chunk committed on its own, so a process killed
mid-embedding keeps what it embedded: the next sync embeds only the rest.

`check_index` reports drift between the database and the index (entries without vectors, vectors
without entries, vectors of an older text, texts missing from the cache); `repair_index` mends it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.embeddings import VectorView
from service.knowledge_base.models import EmbeddingCache, Entry, Workspace
from service.knowledge_base.text import content_hash, passage_text
from service.vector_store import VectorIndex

Progress = Callable[[int, int], None]  # (done, total)

_BATCH = 256  # entries upserted together
_EMBED_CHUNK = 64  # texts embedded, then committed to the cache, together: what a kill can cost
_CACHE_LOOKUP = 500  # text hashes per cache query (well under any SQL variable limit)


@dataclass
class SyncResult:
    upserted: int  # entries written to at least one view
    removed: int  # entries removed from the index
    embedded: int  # distinct texts some model had to embed
    cached: int  # upserted entries whose vectors all came from the cache (or a twin text)
    by_view: dict[str, int] = field(default_factory=dict)  # vectors computed, per view


def view_text(view: VectorView, entry: Entry) -> str:
    """What a view embeds of an entry (the content hash covers both: it changes when either does)."""
    if view.question_only:
        return passage_text(entry.question, "").rstrip("\n")
    return passage_text(entry.question, entry.answer)


def embed_cached(
    session: Session,
    view: VectorView,
    texts: Sequence[str],
    fresh: dict[str, bytes],
    persist: bool = False,
) -> tuple[list[np.ndarray], list[str]]:
    """Passage vectors of one view for `texts`, computing only those neither the cache nor `fresh`
    (this sync's new vectors, hash -> float32 bytes) holds. Returns (vectors, hashes computed now).

    New vectors go into `fresh`. With `persist`, each chunk of them is also committed to the cache
    at once, in a transaction of its own (`store_cached`), so a kill later loses none of them.
    """
    hashes = [content_hash(t) for t in texts]
    known: dict[str, np.ndarray] = {h: np.frombuffer(fresh[h], dtype=np.float32) for h in hashes if h in fresh}
    unique = [h for h in dict.fromkeys(hashes) if h not in known]
    known.update(cached_vectors(session, view, unique))
    missing = [(h, t) for h, t in dict(zip(hashes, texts, strict=True)).items() if h not in known]
    for start in range(0, len(missing), _EMBED_CHUNK):
        chunk = missing[start : start + _EMBED_CHUNK]
        rows: list[dict[str, object]] = []
        for (h, _), vector in zip(chunk, view.embed_passages([t for _, t in chunk]), strict=True):
            known[h] = np.asarray(vector, dtype=np.float32)
            fresh[h] = known[h].tobytes()
            rows.append({"model": view.key, "text_hash": h, "vector": fresh[h]})
        if persist:
            store_cached(session, rows)
    return [known[h] for h in hashes], [h for h, _ in missing]


def cached_vectors(session: Session, view: VectorView, hashes: Sequence[str]) -> dict[str, np.ndarray]:
    """The cache's vectors of one view for these text hashes (those it holds)."""
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), _CACHE_LOOKUP):
        chunk = list(hashes[start : start + _CACHE_LOOKUP])
        for row in session.execute(
            select(EmbeddingCache.text_hash, EmbeddingCache.vector).where(
                EmbeddingCache.model == view.key, EmbeddingCache.text_hash.in_(chunk)
            )
        ):
            found[row.text_hash] = np.frombuffer(row.vector, dtype=np.float32)
    return found


def store_cached(session: Session, rows: list[dict[str, object]]) -> None:
    """Commit cache rows now, in a short transaction of their own on the caller's database.

    The cache is derived data, safe to keep whatever becomes of the caller's transaction (which
    stays read-only during a sync, so this never waits on it); committing it as it is made is what
    lets a killed sync resume where it stopped.
    """
    if not rows:
        return
    with Session(bind=session.get_bind()) as own:
        _insert_ignoring_duplicates(own, rows)
        own.commit()


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, object]]) -> None:
    """Cache rows another process may have written meanwhile are simply kept."""
    if not rows:
        return
    match session.get_bind().dialect.name:
        case "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        case "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        case _:
            for row in rows:
                session.merge(EmbeddingCache(**row))
            session.flush()
            return
    for start in range(0, len(rows), _CACHE_LOOKUP):  # 3 values a row: bounded statements
        session.execute(insert(EmbeddingCache).values(rows[start : start + _CACHE_LOOKUP]).on_conflict_do_nothing())


def sync_vectors(
    session: Session,
    workspace: Workspace,
    index: VectorIndex,
    progress: Progress | None = None,
) -> SyncResult:
    # Ids and hashes only: what is in step is decided without loading a single entry; only the
    # entries a view lacks (or holds at an older text) are loaded, a batch at a time.
    hashes = select(Entry.id, Entry.content_hash).where(Entry.workspace_id == workspace.id).order_by(Entry.id)
    wanted: dict[str, str] = {entry_id: digest for entry_id, digest in session.execute(hashes)}
    plans: list[tuple[VectorView, list[str], list[str]]] = []
    for name in index.distinct_views():
        held = index.indexed(workspace.name, name)
        stale = [i for i in held if i not in wanted]
        todo = [i for i, h in wanted.items() if held.get(i) != h]
        plans.append((index.views[name], todo, stale))

    total = sum(len(todo) for _, todo, _ in plans)
    done = 0
    if progress:
        progress(0, total)
    upserted: set[str] = set()
    removed: set[str] = set()
    computed: set[str] = set()
    by_view: dict[str, int] = {}
    for view, todo, stale in plans:
        fresh: dict[str, bytes] = {}
        for start in range(0, len(todo), _BATCH):
            batch = list(
                session.scalars(select(Entry).where(Entry.id.in_(todo[start : start + _BATCH])).order_by(Entry.id))
            )
            vectors, new = embed_cached(session, view, [view_text(view, e) for e in batch], fresh, persist=True)
            computed.update(new)
            index.upsert(
                workspace.name,
                [e.id for e in batch],
                vectors,
                [{"content_hash": e.content_hash, "product": e.product or "", "language": e.language} for e in batch],
                view=view.name,
            )
            upserted.update(e.id for e in batch)
            done += len(batch)
            if progress:
                progress(done, total)
        index.delete(workspace.name, stale, view=view.name)
        removed.update(stale)
        by_view[view.name] = len(fresh)
    return SyncResult(len(upserted), len(removed), len(computed), len(upserted) - len(computed), by_view)


@dataclass
class ViewDrift:
    """How one view of the index differs from the database."""

    view: str
    missing: list[str] = field(default_factory=list)  # entries without a vector
    orphaned: list[str] = field(default_factory=list)  # vectors of no entry
    stale: list[str] = field(default_factory=list)  # vectors of an entry's older text
    uncached: int = 0  # distinct entry texts whose vector is not in the embedding cache

    @property
    def found(self) -> bool:
        return bool(self.missing or self.orphaned or self.stale or self.uncached)


@dataclass
class Drift:
    workspace: str
    entries: int
    views: list[ViewDrift]

    @property
    def found(self) -> bool:
        return any(v.found for v in self.views)


def check_index(session: Session, workspace: Workspace, index: VectorIndex) -> Drift:
    """Compare the index and the embedding cache with the entries, view by view; changes nothing."""
    entries = list(session.scalars(select(Entry).where(Entry.workspace_id == workspace.id).order_by(Entry.id)))
    wanted = {e.id: e.content_hash for e in entries}
    views: list[ViewDrift] = []
    for name in index.distinct_views():
        view = index.views[name]
        held = index.indexed(workspace.name, name)
        texts = {content_hash(view_text(view, e)) for e in entries}
        cached = cached_vectors(session, view, sorted(texts))
        views.append(
            ViewDrift(
                name,
                missing=[i for i in wanted if i not in held],
                orphaned=sorted(i for i in held if i not in wanted),
                stale=[i for i, h in wanted.items() if i in held and held[i] != h],
                uncached=len(texts - cached.keys()),
            )
        )
    return Drift(workspace.name, len(entries), views)


def repair_index(session: Session, workspace: Workspace, index: VectorIndex) -> tuple[SyncResult, int]:
    """Bring the index in step (a sync) and fill the cache's gaps; returns the sync and the number
    of texts embedded for the cache alone."""
    result = sync_vectors(session, workspace, index)
    entries = list(session.scalars(select(Entry).where(Entry.workspace_id == workspace.id).order_by(Entry.id)))
    recached = 0
    for name in index.distinct_views():
        view = index.views[name]
        # This sync's own vectors are in the cache already; what is left is cached now, chunk by chunk.
        _, new = embed_cached(session, view, [view_text(view, e) for e in entries], {}, persist=True)
        recached += len(new)
    return result, recached
