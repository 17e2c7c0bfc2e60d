"""Hybrid search: dense (vector index) and lexical (BM25) rankings fused by RRF.

The retriever reads the stored documents through a `Corpus` (the knowledge base provides one),
so retrieval depends on no storage model and the knowledge base can depend on retrieval.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from service.embeddings import KotaeEmbeddings
from service.ingest.text import detect_language
from service.retrieval.corpus import Corpus, product_matches
from service.retrieval.fusion import rrf
from service.retrieval.lexical import LexicalIndex
from service.settings import Settings
from service.vector_store import VectorIndex


@dataclass
class SearchHit:
    entry: Any  # the corpus's document: a knowledge-base Entry
    score: float  # fused RRF score: comparable within one query only
    dense_similarity: float | None  # cosine similarity of the e5 vectors
    lexical_score: float | None  # BM25 score
    dense_rank: int | None
    lexical_rank: int | None


@dataclass
class _LexicalState:
    revision: int
    index: LexicalIndex
    products: list[str | None]


class Retriever:
    def __init__(self, settings: Settings, embeddings: KotaeEmbeddings, vectors: VectorIndex, corpus: Corpus) -> None:
        self._settings = settings
        self._embeddings = embeddings
        self._vectors = vectors
        self._corpus = corpus
        self._lexical: dict[int, _LexicalState] = {}
        self._lock = threading.Lock()

    def _lexical_index(self, session: Session, workspace_id: int, revision: int) -> _LexicalState:
        with self._lock:
            state = self._lexical.get(workspace_id)
            if state is not None and state.revision == revision:
                return state
        rows = self._corpus.lexical_rows(session, workspace_id)
        state = _LexicalState(
            revision,
            LexicalIndex([r.id for r in rows], [r.text for r in rows]),
            [r.product for r in rows],
        )
        with self._lock:
            self._lexical[workspace_id] = state
        return state

    def lexical_weight(self, language: str) -> float:
        if language == "ja":
            return self._settings.lexical_weight_ja
        return self._settings.lexical_weight_en

    def search(
        self,
        session: Session,
        workspace: str,
        text: str,
        k: int = 5,
        product: str | None = None,
    ) -> list[SearchHit]:
        """The k prior entries closest to `text` in one workspace (and product, when given)."""
        found = self._corpus.workspace_state(session, workspace)
        if found is None or not text.strip():
            return []
        workspace_id, revision = found
        pool = max(self._settings.candidate_pool, k * 4) * (3 if product else 1)

        dense = self._vectors.query(workspace, self._embeddings.embed_query(text), pool)
        dense_sim = {h.entry_id: h.similarity for h in dense}
        dense_ids = [h.entry_id for h in dense]

        lexical_ids: list[str] = []
        lexical_scores: dict[str, float] = {}
        language = detect_language(text)
        weight = self.lexical_weight(language)
        if weight > 0:
            state = self._lexical_index(session, workspace_id, revision)
            scores = state.index.scores(text)
            # Stable sort on a descending score keeps equal scores in id order: deterministic.
            order = np.argsort(-scores, kind="stable")
            for i in order:
                if scores[i] <= 0 or len(lexical_ids) >= pool:
                    break
                if product and not product_matches(state.products[i], product):
                    continue
                lexical_ids.append(state.index.ids[i])
                lexical_scores[state.index.ids[i]] = float(scores[i])

        dense_rank = {entry_id: i for i, entry_id in enumerate(dense_ids, start=1)}
        lexical_rank = {entry_id: i for i, entry_id in enumerate(lexical_ids, start=1)}
        # BM25 cannot match an entry written in another language; rather than count that as a
        # miss, such an entry takes its dense rank on the lexical side too.
        fused_lexical = dict(lexical_rank)
        for hit in dense:
            if hit.language and language in ("ja", "en") and hit.language != language:
                fused_lexical.setdefault(hit.entry_id, dense_rank[hit.entry_id])
        fused = rrf(
            {"dense": (self._settings.dense_weight, dense_rank), "lexical": (weight, fused_lexical)},
            k=self._settings.rrf_k,
        )
        candidate_ids = [entry_id for entry_id, _ in fused]
        entries = self._corpus.fetch(session, workspace_id, candidate_ids[: pool * 2])
        if product:
            fused = [(i, s) for i, s in fused if i in entries and product_matches(entries[i].product, product)]
        fused = _newest_first_for_same_question(fused, entries)
        hits: list[SearchHit] = []
        for entry_id, score in fused:
            entry = entries.get(entry_id)  # vectors of entries deleted since are simply skipped
            if entry is None:
                continue
            hits.append(
                SearchHit(
                    entry=entry,
                    score=score,
                    dense_similarity=dense_sim.get(entry_id),
                    lexical_score=lexical_scores.get(entry_id),
                    dense_rank=dense_rank.get(entry_id),
                    lexical_rank=lexical_rank.get(entry_id),
                )
            )
            if len(hits) >= k:
                break
        return hits


def _newest_first_for_same_question(fused: list[tuple[str, float]], entries: dict[str, Any]) -> list[tuple[str, float]]:
    """Entries answering the very same question keep their group's best slots, newest first:
    a newer approved answer outranks an older one."""

    def key(entry_id: str) -> tuple[str, str] | None:
        entry = entries.get(entry_id)
        return (" ".join(entry.question.lower().split()), entry.product or "") if entry else None

    groups: dict[tuple[str, str], list[str]] = {}
    for entry_id, _ in fused:
        k = key(entry_id)
        if k is not None:
            groups.setdefault(k, []).append(entry_id)
    reordered: dict[str, list[str]] = {
        k: sorted(ids, key=lambda i: (entries[i].ingested_at, i), reverse=True)
        for k, ids in groups.items()
        if len(ids) > 1
    }
    if not reordered:
        return fused
    taken: dict[tuple[str, str], int] = {}
    out: list[tuple[str, float]] = []
    for entry_id, score in fused:
        k = key(entry_id)
        if k in reordered:
            position = taken.get(k, 0)
            taken[k] = position + 1
            out.append((reordered[k][position], score))
        else:
            out.append((entry_id, score))
    return out
