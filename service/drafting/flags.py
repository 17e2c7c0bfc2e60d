"""Flags: what a reviewer must know about a draft before trusting it, as data.

Each flag is a name that travels with the draft to the JSON, the API, the UI and export:
- `needs_translation`: the evidence is in another language than the questionnaire; the offline
  drafter gives the choice and the citations, and leaves the words to the reviewer.
- `translated`: an LLM wrote the answer in the questionnaire's language from foreign evidence.
- `conflicting_evidence`: the top evidence disagrees on the choice, or states opposite facts.
- `stale_evidence`: a cited sheet is older than the setting `stale_evidence_months`.
- `partial`: a compound question whose asks may not all be covered by the evidence.
- `other_product`: evidence for another product than the questionnaire's.
- `choice_withheld`: the question wants Yes/No but the prior answer's choice cannot carry over
  (it points the other way, or asks something else); the note says why.
- `choice_inferred`: the prior answer describes the measure without a Yes/No ("AWS Shield による
  対策"), so Yes was inferred from it; the reviewer confirms it.
- `inverted_choice`: the question points the other way round from the prior question, so the
  prior Yes/No was inverted ("stored in plaintext?" answered from "stored encrypted? Yes").
- `injection`: the question carries instructions for the drafter; they were not followed.
- `llm_fallback`: the LLM could not draft it; the offline drafter did (the note says why).
A flagged draft never falls in the bulk-accept band.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime

from service.retrieval import SearchHit, product_matches

NEEDS_TRANSLATION = "needs_translation"
TRANSLATED = "translated"
CONFLICTING = "conflicting_evidence"
STALE = "stale_evidence"
PARTIAL = "partial"
OTHER_PRODUCT = "other_product"
CHOICE_WITHHELD = "choice_withheld"
CHOICE_INFERRED = "choice_inferred"
INVERTED_CHOICE = "inverted_choice"
INJECTION = "injection"
LLM_FALLBACK = "llm_fallback"
ALL = (
    NEEDS_TRANSLATION,
    TRANSLATED,
    CONFLICTING,
    STALE,
    PARTIAL,
    OTHER_PRODUCT,
    CHOICE_WITHHELD,
    CHOICE_INFERRED,
    INVERTED_CHOICE,
    INJECTION,
    LLM_FALLBACK,
)

# Facts stated and denied: "暗号化しています" against "暗号化されずに保存". The verbs are the ones
# security answers turn on; a denial is the verb followed closely by a negation.
_FACT_VERBS = (
    "暗号化",
    "保存",
    "取得",
    "実施",
    "削除",
    "消去",
    "記録",
    "監視",
    "適用",
    "認証",
    "保管",
    "制限",
    "encrypt",
    "backup",
    "back up",
    "log",
    "delete",
    "monitor",
    "store",
    "retain",
)
_DENIED = r"(?:され|せ|し|を行わ|は行わ)?(?:ず|ない|ていない|ておりません|ていません|ません)"
_EN_DENIED = r"(?:ed|s)?\s+(?:is |are )?not\b|\bnot\s+(?:be\s+)?"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def denied_facts(text: str) -> set[str]:
    """Fact verbs the text states as not done ("暗号化されず", "not encrypted")."""
    norm = _norm(text)
    found = set()
    for verb in _FACT_VERBS:
        if verb.isascii():
            if re.search(rf"\bnot\s+(?:be\s+)?{verb}|\b{verb}\w*\s+(?:is |are )?not\b|\bun{verb}", norm):
                found.add(verb)
        elif re.search(rf"{verb}{_DENIED}", norm):
            found.add(verb)
    return found


def stated_facts(text: str) -> set[str]:
    """Fact verbs the text states as done (and does not deny in the same breath)."""
    norm = _norm(text)
    found = set()
    for verb in _FACT_VERBS:
        if verb.isascii():
            if re.search(rf"\b{verb}(?:s|ed|ing)?\b", norm) and verb not in denied_facts(norm):
                found.add(verb)
        elif re.search(rf"{verb}(?:して|され|を行|しており|します|しています|いたし)", norm):
            found.add(verb)
    return found


# The same fact in the other language: an English question over Japanese evidence asks about 暗号化.
_SAME_FACT = {
    "encrypt": ("暗号化",),
    "delete": ("削除", "消去"),
    "monitor": ("監視",),
    "store": ("保存", "保管"),
    "retain": ("保管", "保存"),
    "log": ("記録",),
}
_SAME_FACT_JA = {ja: en for en, words in _SAME_FACT.items() for ja in words}


def opposite_facts(question: str, texts: Sequence[str]) -> bool:
    """One piece of evidence states what another denies, about a verb the question asks about."""
    asked = {v for v in _FACT_VERBS if v in _norm(question)}
    translated = {ja for v in asked for ja in _SAME_FACT.get(v, ())}
    asked |= translated | {_SAME_FACT_JA[v] for v in asked if v in _SAME_FACT_JA}
    if not asked:
        return False
    stated = [stated_facts(t) & asked for t in texts]
    denied = [denied_facts(t) & asked for t in texts]
    return any(stated[i] & denied[j] for i in range(len(texts)) for j in range(len(texts)) if i != j)


def evidence_date(hit: SearchHit) -> date:
    entry = hit.entry
    if entry.sheet_date is not None:
        return entry.sheet_date
    ingested: datetime = entry.ingested_at
    return (ingested if ingested.tzinfo else ingested.replace(tzinfo=UTC)).date()


def is_stale(hits: Sequence[SearchHit], months: int, today: date | None = None) -> bool:
    today = today or datetime.now(UTC).date()
    limit = today.toordinal() - int(months * 30.44)
    return any(evidence_date(h).toordinal() < limit for h in hits)


def other_product(hits: Sequence[SearchHit], product: str | None) -> bool:
    return bool(product) and any(h.entry.product and not product_matches(h.entry.product, product) for h in hits)
