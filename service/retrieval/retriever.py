"""Hybrid search: dense rankings (one per vector view) and a lexical (BM25) one, fused by RRF.

Which views a query searches depends on its language (settings `dense_views_ja`,
`dense_views_en`): measured on the seeds, English questions find Japanese rows best through
symmetric e5 plus multilingual USE, Japanese ones through asymmetric e5 plus BM25.

The retriever reads the stored documents through a `Corpus` (the knowledge base provides one),
so retrieval depends on no storage model and the knowledge base can depend on retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from service.embeddings import KotaeEmbeddings, VectorView
from service.ingest.text import detect_language
from service.retrieval.corpus import Corpus, WorkspaceState, product_matches
from service.retrieval.dense import DenseRanking, dense_rankings, main_view
from service.retrieval.fusion import rrf
from service.retrieval.glossary import bilingual_lexical_query
from service.retrieval.lexical_store import LexicalSnapshot, LexicalStore
from service.settings import Settings
from service.vector_store import VectorIndex


@dataclass
class SearchHit:
    entry: Any  # the corpus's document: a knowledge-base Entry
    score: float  # fused RRF score: comparable within one query only
    # Cosine between the query and the entry in the query's main view: the first e5 view of its
    # language's list (asymmetric "query:"/"passage:" e5 for Japanese questions, symmetric
    # "query:"/"query:" e5 for English ones, by default). Exact even when that view did not rank it.
    dense_similarity: float | None
    lexical_score: float | None  # BM25 score
    dense_rank: int | None  # rank in the main view
    lexical_rank: int | None
    view_ranks: dict[str, int] = field(default_factory=dict)  # rank per view that ranked the entry
    view_similarities: dict[str, float] = field(default_factory=dict)  # cosine per view that ranked it
    # Cosine in the query language's evidence view (settings `evidence_view_ja|en`), exact for every
    # hit: how close the knowledge base comes to the question at all; drafting abstains on it.
    evidence_similarity: float | None = None
    evidence_view: str | None = None  # the view it was measured in


class Retriever:
    """`lexical`: where the BM25 indexes live (the knowledge base passes its persisted store, so a
    fresh process answers its first query from disk); None keeps them in memory."""

    def __init__(
        self,
        settings: Settings,
        embeddings: KotaeEmbeddings,
        vectors: VectorIndex,
        corpus: Corpus,
        lexical: LexicalStore | None = None,
    ) -> None:
        self._settings = settings
        self._embeddings = embeddings  # the main model; the views hold every model they need
        self._vectors = vectors
        self._corpus = corpus
        self._lexical_store = lexical if lexical is not None else LexicalStore(None)

    def _lexical_index(self, session: Session, workspace: WorkspaceState) -> LexicalSnapshot:
        tokenizer = self._settings.lexical_tokenizer
        return self._lexical_store.snapshot(
            session, self._corpus, workspace.id, workspace.revision, tokenizer, workspace.generation
        )

    def lexical_weight(self, language: str) -> float:
        if language == "ja":
            return self._settings.lexical_weight_ja
        return self._settings.lexical_weight_en

    def views_for(self, language: str) -> list[VectorView]:
        """The views a query in `language` searches (the settings name them, the index keeps them)."""
        names = self._settings.dense_views_ja if language == "ja" else self._settings.dense_views_en
        missing = [n for n in names if n not in self._vectors.views]
        if missing or not names:
            raise ValueError(f"dense views {missing or names} are not kept by the vector index")
        return [self._vectors.views[n] for n in names]

    def _lexical_ranking(
        self, session: Session, workspace: WorkspaceState, text: str, pool: int, product: str | None
    ) -> tuple[dict[str, int], dict[str, float]]:
        state = self._lexical_index(session, workspace)
        scores = state.index.scores(text)
        ranks: dict[str, int] = {}
        found: dict[str, float] = {}
        candidates = np.flatnonzero(scores > 0)
        if not product and len(candidates) > pool:
            # The pool without sorting every document: all scores tied with the pool-th stay in.
            threshold = np.partition(scores[candidates], len(candidates) - pool)[len(candidates) - pool]
            candidates = candidates[scores[candidates] >= threshold]
        # Stable sort on a descending score keeps equal scores in id order: deterministic.
        for i in candidates[np.argsort(-scores[candidates], kind="stable")]:
            if scores[i] <= 0 or len(ranks) >= pool:
                break
            if product and not product_matches(state.products[i], product):
                continue
            ranks[state.index.ids[i]] = len(ranks) + 1
            found[state.index.ids[i]] = float(scores[i])
        return ranks, found

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
        pool = max(self._settings.candidate_pool, k * 4) * (3 if product else 1)
        language = detect_language(text)
        views = self.views_for(language)
        main = main_view(views)
        rankings = dense_rankings(self._vectors, workspace, views, text, pool, self._corpus.hidden)
        primary = next(r for r in rankings if r.view == main.name)

        weight = self.lexical_weight(language)
        lexical_text = text
        if language == "en" and self._settings.lexical_glossary_en:
            lexical_text = f"{bilingual_lexical_query(text)} {text}"
        lexical_rank, lexical_scores = (
            self._lexical_ranking(session, found, lexical_text, pool, product) if weight > 0 else ({}, {})
        )
        # BM25 cannot match an entry written in another language; rather than count that as a
        # miss, such an entry takes its main dense rank on the lexical side too.
        fused_lexical = dict(lexical_rank)
        languages = {i: lang for r in rankings for i, lang in r.language.items()}
        for entry_id, rank in primary.ranks.items():
            if languages.get(entry_id) and language in ("ja", "en") and languages[entry_id] != language:
                fused_lexical.setdefault(entry_id, rank)
        fused = rrf(
            {
                **{f"dense:{r.view}": (self._settings.dense_weight, r.ranks) for r in rankings},
                "lexical": (weight, fused_lexical),
            },
            k=self._settings.rrf_k,
            tie_break=primary.similarity if self._settings.rrf_tie_break == "cosine" else None,
        )
        candidate_ids = [entry_id for entry_id, _ in fused]
        entries = self._corpus.fetch(session, found.id, candidate_ids[: pool * 2])
        if product:
            fused = [(i, s) for i, s in fused if i in entries and product_matches(entries[i].product, product)]
        fused = _newest_first_for_same_question(fused, entries)
        chosen = [(entries[i], s) for i, s in fused if i in entries][:k]  # vectors of deleted entries are skipped
        hits = self._hits(workspace, chosen, rankings, primary, lexical_rank, lexical_scores)
        view, evidence = self._evidence_similarities(workspace, language, text, rankings, [h.entry.id for h in hits])
        for hit in hits:
            hit.evidence_similarity = evidence.get(hit.entry.id)
            hit.evidence_view = view if hit.evidence_similarity is not None else None
        return hits

    def _evidence_similarities(
        self, workspace: str, language: str, text: str, rankings: list[DenseRanking], ids: list[str]
    ) -> tuple[str, dict[str, float]]:
        name = self._settings.evidence_view_ja if language == "ja" else self._settings.evidence_view_en
        view = self._vectors.views.get(name)
        if view is None or not ids:
            return name, {}
        searched = next((r for r in rankings if r.view == name), None)
        if searched is not None:  # a view the query ranked in (USE for English): most cosines are known
            return name, self._cosines(workspace, name, searched.query, ids, searched.similarity)
        # A view of a model already queried (e5_sym after e5) reuses that query vector.
        query = next((r.query for r in rankings if self._vectors.views[r.view].model is view.model), None)
        return name, self._cosines(workspace, name, query or view.embed_query(text), ids, {})

    def _cosines(
        self, workspace: str, view: str, query: list[float], ids: list[str], known: dict[str, float]
    ) -> dict[str, float]:
        """Cosines of `ids` in `view`: those a ranking already holds, the rest read exactly."""
        found = {i: known[i] for i in ids if i in known}
        found.update(self._vectors.similarities(workspace, query, [i for i in ids if i not in known], view=view))
        return found

    def _hits(
        self,
        workspace: str,
        chosen: list[tuple[Any, float]],
        rankings: list[DenseRanking],
        primary: DenseRanking,
        lexical_rank: dict[str, int],
        lexical_scores: dict[str, float],
    ) -> list[SearchHit]:
        # An entry found by another view or by BM25 still gets its cosine in the main view: the
        # drafting confidence reads it.
        ids = [entry.id for entry, _ in chosen]
        similarity = self._cosines(workspace, primary.view, primary.query, ids, primary.similarity)
        return [
            SearchHit(
                entry=entry,
                score=score,
                dense_similarity=similarity.get(entry.id),
                lexical_score=lexical_scores.get(entry.id),
                dense_rank=primary.ranks.get(entry.id),
                lexical_rank=lexical_rank.get(entry.id),
                view_ranks={r.view: r.ranks[entry.id] for r in rankings if entry.id in r.ranks},
                view_similarities={r.view: r.similarity[entry.id] for r in rankings if entry.id in r.similarity},
            )
            for entry, score in chosen
        ]


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
