"""Keeping the vector index in step with the database, which is the source of truth.

`sync_vectors` compares what the index holds (entry id + content hash) with the entries, embeds
only what is missing or changed (through the content-hash cache), and removes what is gone.
It is idempotent: after a crash half-way, running it again finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.embeddings import KotaeEmbeddings
from service.knowledge_base.models import EmbeddingCache, Entry, Workspace
from service.knowledge_base.text import content_hash, passage_text
from service.vector_store import VectorIndex

Progress = Callable[[int, int], None]  # (done, total)

_BATCH = 256


@dataclass
class SyncResult:
    upserted: int
    removed: int
    embedded: int  # vectors computed by the model
    cached: int  # vectors taken from the cache


def embed_cached(
    session: Session,
    embeddings: KotaeEmbeddings,
    texts: Sequence[str],
    progress: Progress | None = None,
) -> tuple[list[list[float]], list[dict[str, object]]]:
    """Passage vectors for `texts`, computing only those the cache lacks.

    Returns (vectors, new cache rows). The rows are written by the caller at the end, so no write
    lock is held while the model runs (SQLite has one writer).
    """
    hashes = [content_hash(t) for t in texts]
    model = embeddings.model_id
    known: dict[str, list[float]] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for row in session.execute(
            select(EmbeddingCache.text_hash, EmbeddingCache.vector).where(
                EmbeddingCache.model == model, EmbeddingCache.text_hash.in_(chunk)
            )
        ):
            known[row.text_hash] = np.frombuffer(row.vector, dtype=np.float32).tolist()
    missing = [(h, t) for h, t in dict(zip(hashes, texts, strict=True)).items() if h not in known]
    rows: list[dict[str, object]] = []
    done = len(texts) - len(missing)
    if progress:
        progress(done, len(texts))
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        vectors = embeddings.embed_documents([t for _, t in batch])
        for (h, _), vector in zip(batch, vectors, strict=True):
            known[h] = vector
            rows.append({"model": model, "text_hash": h, "vector": np.asarray(vector, np.float32).tobytes()})
        done += len(batch)
        if progress:
            progress(done, len(texts))
    return [known[h] for h in hashes], rows


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
    session.execute(insert(EmbeddingCache).values(rows).on_conflict_do_nothing())


def sync_vectors(
    session: Session,
    workspace: Workspace,
    embeddings: KotaeEmbeddings,
    index: VectorIndex,
    progress: Progress | None = None,
) -> SyncResult:
    entries = list(session.scalars(select(Entry).where(Entry.workspace_id == workspace.id)))
    held = index.indexed(workspace.name)
    wanted = {e.id: e for e in entries}
    stale = [i for i in held if i not in wanted]
    todo = [e for e in entries if held.get(e.id) != e.content_hash]

    texts = [passage_text(e.question, e.answer) for e in todo]
    vectors, cache_rows = embed_cached(session, embeddings, texts, progress)
    for start in range(0, len(todo), _BATCH):
        batch = todo[start : start + _BATCH]
        index.upsert(
            workspace.name,
            [e.id for e in batch],
            vectors[start : start + _BATCH],
            [{"content_hash": e.content_hash, "product": e.product or "", "language": e.language} for e in batch],
        )
    index.delete(workspace.name, stale)
    _insert_ignoring_duplicates(session, cache_rows)
    if progress and not todo:
        progress(0, 0)
    return SyncResult(len(todo), len(stale), len(cache_rows), len(todo) - len(cache_rows))
