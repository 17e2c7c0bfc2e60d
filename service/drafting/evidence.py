"""How strongly the retrieved entries support a question: the signals behind confidence and abstention.

The ranking cosine (asymmetric e5 for Japanese questions) tells answerable from unanswerable
questions poorly: an unanswerable question's best match scores about as high as an answerable
one's. What separates them is agreement between the two retrievers, how much of the question the
evidence covers, whether its key terms (SOC2, FedRAMP, 27001 ...) appear at all, and above all
the cosine in the language's evidence view (symmetric e5 for Japanese, USE for English; measured
on the held-out fit split), which the calibration's abstention reads. The blend's constants here
are first calibrations on hand-made questions; the fitted calibration replaces the blend.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from service.knowledge_base import SearchHit
from service.retrieval import tokenize

# Dense cosine mapped to 0..1 between a floor (typical of unrelated rows) and a ceiling.
DENSE_RANGE = {"ja": (0.84, 0.90), "en": (0.80, 0.86)}
_CONTENT = re.compile(r"[\u30a0-\u30ff\u3400-\u9fffA-Za-z0-9]")
_KEY_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*[A-Za-z0-9]")


@dataclass
class Signals:
    dense: float  # cosine of the best hit
    agree: float  # 1 when both retrievers put the best hit near their top
    coverage: float  # share of the question's content bigrams found in the best hit
    missing_key_terms: float  # 1 when a key term of the question is absent from the evidence
    confidence: float  # the hand-set blend of the above; the calibration replaces it where fitted
    margin: float = 0.0  # how far the best hit's cosine stands above the next one's
    question_overlap: float = 0.0  # content bigrams shared with the best hit's own question (same language)
    dense_top: float = 0.0  # 1 when the dense retriever ranks the best hit first
    cross_language: float = 0.0  # 1 when the best hit is written in the other language
    # Cosine of the question and the best hit in the language's evidence view (None when the index
    # keeps no such view): what tells an answerable question from one nothing answers.
    evidence_similarity: float | None = None


def key_terms(text: str) -> set[str]:
    """Acronyms, standards and numbers: 'SOC2', 'FedRAMP', 'ISO', '27001', 'TLS'."""
    norm = unicodedata.normalize("NFKC", text)
    terms = set()
    for token in _KEY_TERM.findall(norm):
        capitals_or_digits = sum(1 for ch in token if ch.isupper() or ch.isdigit())
        if capitals_or_digits >= 2 or any(ch.isdigit() for ch in token):
            terms.add(token.lower())
    return terms


def content_bigrams(text: str) -> set[str]:
    return {t for t in tokenize(text) if _CONTENT.search(t)}


def _scale(value: float, low: float, high: float) -> float:
    return max(0.0, min(1.0, (value - low) / (high - low)))


def score(question: str, language: str, hits: list[SearchHit]) -> Signals:
    if not hits:
        return Signals(0.0, 0.0, 0.0, 0.0, 0.0)
    top = hits[0]
    dense = top.dense_similarity or 0.0
    evidence = " ".join(f"{h.entry.question} {h.entry.answer} {h.entry.notes}" for h in hits[:3])
    evidence_norm = unicodedata.normalize("NFKC", evidence).lower()
    terms = key_terms(question)
    missing = 1.0 if terms and not all(t in evidence_norm for t in terms) else 0.0

    if language == "ja":
        low, high = DENSE_RANGE["ja"]
        agree = 1.0 if (top.dense_rank or 99) <= 2 and (top.lexical_rank or 99) <= 3 else 0.0
        wanted = content_bigrams(question)
        found = content_bigrams(f"{top.entry.question} {top.entry.answer}")
        coverage = len(wanted & found) / len(wanted) if wanted else 0.0
        confidence = 0.4 * agree + 0.4 * _scale(dense, low, high) + 0.2 * coverage
    else:
        low, high = DENSE_RANGE["en"]
        agree, coverage = 0.0, 0.0
        confidence = _scale(dense, low, high)
    if missing:
        confidence *= 0.5
    second = hits[1].dense_similarity if len(hits) > 1 and hits[1].dense_similarity is not None else dense
    cross = 1.0 if top.entry.language in ("ja", "en") and top.entry.language != language else 0.0
    overlap = 0.0
    if not cross:
        asked, prior = content_bigrams(question), content_bigrams(top.entry.question)
        overlap = len(asked & prior) / len(asked | prior) if asked | prior else 0.0
    return Signals(
        round(dense, 4),
        agree,
        round(coverage, 4),
        missing,
        round(confidence, 4),
        margin=round(max(0.0, dense - second), 4),
        question_overlap=round(overlap, 4),
        dense_top=1.0 if top.dense_rank == 1 else 0.0,
        cross_language=cross,
        evidence_similarity=None if top.evidence_similarity is None else round(top.evidence_similarity, 4),
    )
