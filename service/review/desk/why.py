"""Why a draft is as it is: its flags in words, and each citation's date, product and matched words."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from service.knowledge_base import Entry
from service.questionnaires import Item

_LANGUAGE = {"ja": "Japanese", "en": "English"}


def flag_words(item: Item) -> list[tuple[str, str]]:
    """Each flag with what it asks of the reviewer, in words."""
    other = _LANGUAGE["en" if item.language == "ja" else "ja"]
    own = _LANGUAGE.get(item.language, item.language)
    words = {
        "needs_translation": f"answer is {other} evidence: translate it into {own}",
        "translated": f"translated from {other} evidence: check the wording",
        "conflicting_evidence": "sources disagree: check which one holds",
        "stale_evidence": "evidence is old: check it still holds",
        "partial": "the question asks several things: the evidence may not cover them all",
        "other_product": "evidence is about another product",
        "choice_withheld": "the prior Yes/No could not carry over: choose it yourself",
        "choice_inferred": "the prior answer describes the measure without Yes/No: Yes was inferred, confirm it",
        "inverted_choice": "the question is asked the other way round: the prior Yes/No was inverted",
        "injection": "the question carries instructions for the drafter: they were not followed",
        "llm_fallback": "the LLM could not draft it: drafted offline instead",
        "reused": "answer approved in an earlier questionnaire (see the citation): check it still holds",
    }
    return [(f, words.get(f, f.replace("_", " "))) for f in item.flags or []]


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_KANA_ONLY = re.compile(r"^[\u3040-\u309f]+$")  # hiragana pairs are endings and particles, not topics
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ("a", "an", "and", "any", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have")
    + ("how", "in", "is", "it", "of", "on", "or", "our", "that", "the", "this", "to", "we", "what", "when", "which")
    + ("who", "with", "you", "your")
)


def _flat(text: str) -> str:
    """NFKC-lowered, one character for one (a character that widens becomes NUL): offsets stay the text's."""
    out = []
    for char in text:
        norm = unicodedata.normalize("NFKC", char).lower()
        out.append(norm if len(norm) == 1 else "\0")
    return "".join(out)


def _stem(word: str) -> str:
    return word[:5] if len(word) > 5 else word


def highlight_spans(question: str, text: str) -> list[tuple[int, int]]:
    """[start, end) spans of `text` sharing words with the question: English words (by their first five
    letters) and Japanese character pairs that are not mere kana endings."""
    q = _flat(question)
    stems = {_stem(w) for w in _WORD.findall(q) if len(w) > 1 and w not in _STOP}
    pairs = {
        q[i : i + 2]
        for i in range(len(q) - 1)
        if _CJK.match(q[i]) and _CJK.match(q[i + 1]) and not _KANA_ONLY.match(q[i : i + 2])
    }
    flat = _flat(text)
    marked = [False] * len(text)
    for i in range(len(flat) - 1):
        if flat[i : i + 2] in pairs:
            marked[i] = marked[i + 1] = True
    for match in _WORD.finditer(flat):
        word = match.group()
        if len(word) > 1 and word not in _STOP and _stem(word) in stems:
            marked[match.start() : match.end()] = [True] * (match.end() - match.start())
    spans: list[tuple[int, int]] = []
    for i, on in enumerate(marked):
        if on and (not spans or spans[-1][1] != i):
            spans.append((i, i + 1))
        elif on:
            spans[-1] = (spans[-1][0], i + 1)
    return spans


@dataclass
class Evidence:
    source: str
    locator: str
    product: str | None
    text: str
    spans: list[tuple[int, int]]
    date: date | None  # the sheet's date, or when it was ingested; None: no longer in the knowledge base
    language: str | None
    approved_by: str | None  # for answers approved in an earlier review


def _entry_date(entry: Entry) -> date:
    if entry.sheet_date is not None:
        return entry.sheet_date
    if entry.source.sheet_date is not None:
        return entry.source.sheet_date
    return entry.ingested_at.date()


def evidence(session: Session, item: Item) -> list[Evidence]:
    """The item's citations as a reviewer reads them: where, when, which product, which words matched."""
    out = []
    for c in item.citations or []:
        entry = session.get(Entry, c.get("entry_id")) if c.get("entry_id") else None
        text = c.get("text") or ""
        out.append(
            Evidence(
                source=c.get("source") or "",
                locator=c.get("locator") or "",
                product=c.get("product"),
                text=text,
                spans=highlight_spans(item.question, text),
                date=_entry_date(entry) if entry else None,
                language=entry.language if entry else None,
                approved_by=(entry.provenance or {}).get("reviewer") if entry else None,
            )
        )
    return out
