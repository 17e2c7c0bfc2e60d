"""Eval on the user's own answered sheets: hold one out, draft it from everything else, compare.

"How well would Kotae have answered the sheet we sent Customer X, from everything else we know?"
Each held-out row's real answer is the ground truth. Nothing in the workspace changes: the
held-out source's entries are only hidden from retrieval (a read-only view of the knowledge
base), and a draft that cites one of them is a bug, raised, not a metric.

Agreement:
- choice: both the real row and the draft state Yes/No/N/A, and they are the same;
- answer: the draft's words (or, when the offline draft leaves the words to a translator, the
  cited entry's words) against the real answer: chrF ≥ `CHRF_AGREE` or e5 cosine ≥
  `COSINE_AGREE` (chosen on the labelled seeds: answers to the same control in different
  sheets against answers to different controls; eval/README.md);
- judge: when an LLM is configured (`KOTAE_DRAFTER=llm`), an LLM judge also reads each drafted item
  and says agree / partial / disagree with a one-line reason (`service.evaluation.judge`);
  `judge_agreement` is the share of judged drafts it says agree. The chrF/e5 measure stays the
  answer agreement (and what `--calibrate` fits on), so runs with and without an LLM compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sacrebleu.metrics import CHRF
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.drafting import NO_EVIDENCE, Draft, Drafter, Request, draft_requests
from service.drafting.calibration import (
    FEATURES,
    Calibration,
    abstains,
    band_from,
    feature_values,
    fit,
    reliability,
)
from service.drafting.offline import OfflineDrafter, resolve_calibration
from service.drafting.questions import analyse
from service.evaluation.judge import LLMJudge, Verdict, stated
from service.ingest import ParsedItem, parse_bytes
from service.ingest.choices import normalize_choice
from service.knowledge_base import Entry, KnowledgeBase, SearchHit, Source, get_workspace
from service.questionnaires import item_ref

CHRF_AGREE = 20.0  # eval/choose_agreement.py: best balanced accuracy (0.70) on the labelled seeds
COSINE_AGREE = 0.89
_chrf = CHRF()
Progress = Callable[[int, int], None]


class CitationLeak(AssertionError):
    """A draft cited the held-out sheet: the eval would be measuring a lookup, not a draft."""


@dataclass
class HeldRow:
    ref: str
    question: str
    language: str
    product: str | None
    choice: str | None  # yes / no / na, normalised
    answer: str


@dataclass
class ItemResult:
    row: HeldRow
    draft: Draft
    choice_agrees: bool | None  # None: one side states no choice
    answer_agrees: bool | None  # None: nothing to compare (an abstention, or no real answer)
    chrf: float
    cosine: float
    features: dict[str, float]
    seconds: float
    elsewhere: bool = False  # abstained although the best evidence found agrees with the real answer
    answer_agrees_raw: bool | None = None  # agreement of what would have been drafted (for fitting)
    judge: Verdict | None = None  # the LLM judge's verdict on a drafted item, when a judge ran

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.row.ref,
            "question": self.row.question,
            "language": self.row.language,
            "real_choice": self.row.choice,
            "real_answer": self.row.answer,
            "status": self.draft.status,
            "choice": self.draft.choice,
            "answer": self.draft.answer,
            "confidence": self.draft.confidence,
            "flags": self.draft.flags,
            "citations": [f"{c.source} {c.locator}" for c in self.draft.citations],
            "choice_agrees": self.choice_agrees,
            "answer_agrees": self.answer_agrees,
            "chrf": round(self.chrf, 2),
            "cosine": round(self.cosine, 4),
            "judge": self.judge.to_json() if self.judge else None,
        }


@dataclass
class SourceResult:
    source: str
    items: list[ItemResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return summarise(self.source, self.items)


def _share(values: Sequence[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def _judged(drafted: Sequence[ItemResult]) -> dict[str, Any]:
    """The judge's verdicts on the drafted items: None when no judge ran (no LLM configured)."""
    verdicts = [i.judge.verdict for i in drafted if i.judge is not None]
    if not verdicts:
        return {"judge_agreement": None, "judge_verdicts": None}
    counts = {v: verdicts.count(v) for v in ("agree", "partial", "disagree")}
    counts["failed"] = verdicts.count(None)
    judged = len(verdicts) - counts["failed"]
    return {"judge_agreement": round(counts["agree"] / judged, 4) if judged else None, "judge_verdicts": counts}


def summarise(name: str, items: Sequence[ItemResult]) -> dict[str, Any]:
    drafted = [i for i in items if i.draft.status != NO_EVIDENCE]
    agree = [i.answer_agrees for i in drafted]
    return {
        "source": name,
        "questions": len(items),
        "drafted": len(drafted),
        "coverage": round(len(drafted) / len(items), 4) if items else None,
        "choice_agreement": _share([i.choice_agrees for i in drafted]),
        "answer_agreement": _share(agree),
        **_judged(drafted),
        "abstained_with_answer_elsewhere": sum(1 for i in items if i.elsewhere),
        "reliability": [
            {"band": r["band"], "count": r["count"], "agreement": r["right"]}
            for r in reliability([i.draft.confidence for i in drafted], [bool(i.answer_agrees) for i in drafted])
        ],
        "seconds_per_question": round(sum(i.seconds for i in items) / len(items), 4) if items else None,
        "items": [i.to_json() for i in items],
    }


def source_entries(session: Session, workspace: str, source: str) -> list[Entry]:
    """A stored source's entries in sheet order (a held-out view hides their ids)."""
    ws = get_workspace(session, workspace)
    found = session.scalar(select(Source).where(Source.workspace_id == ws.id, Source.name == source))
    if found is None:
        raise LookupError(f"no source named '{source}' in workspace '{workspace}'")
    return list(session.scalars(select(Entry).where(Entry.source_id == found.id).order_by(Entry.row, Entry.id)))


def rows_of_source(session: Session, workspace: str, source: str) -> tuple[list[HeldRow], set[str]]:
    """A stored source's questions with their real answers, and its entry ids (to hide)."""
    entries = source_entries(session, workspace, source)
    rows = [
        HeldRow(
            f"{e.sheet}!{e.locator}" if e.sheet else e.locator,
            e.question,
            e.language,
            e.product,
            e.choice or normalize_choice(e.choice_raw or ""),
            e.answer,
        )
        for e in entries
    ]
    return rows, {e.id for e in entries}


def rows_of_file(path: Path, kb: KnowledgeBase) -> list[HeldRow]:
    """An answered sheet that is not in the workspace, read by the same parsers."""
    doc = parse_bytes(path.name, path.read_bytes(), kb.limits)
    return [_row(item) for item in doc.items if item.answer or item.choice_raw]


def _row(item: ParsedItem) -> HeldRow:
    return HeldRow(
        item_ref(item), item.question, item.language, item.product, item.choice, item.answer or item.choice_raw
    )


def _compared_text(draft: Draft, hits: list[SearchHit]) -> str:
    if draft.answer:
        return draft.answer
    cited = {c.entry_id for c in draft.citations}
    return next((h.entry.answer for h in hits if h.entry.id in cited), hits[0].entry.answer if hits else "")


def _agreement(kb: KnowledgeBase, text: str, real: str) -> tuple[bool | None, float, float]:
    if not text.strip() or not real.strip():
        return None, 0.0, 0.0
    chrf = _chrf.sentence_score(text, [real]).score
    vectors = np.asarray(kb.embeddings.embed_documents([text[:1500], real[:1500]]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    cosine = float(vectors[0] @ vectors[1] / (norms[0] * norms[1])) if norms.all() else 0.0
    return chrf >= CHRF_AGREE or cosine >= COSINE_AGREE, chrf, cosine


def draft_held_out(
    session: Session, drafter: Drafter, workspace: str, request: Request, hidden: set[str] | frozenset[str], name: str
) -> tuple[Draft, list[SearchHit]]:
    """One request drafted through the one pipeline, with the evidence it saw.

    `drafter` drafts from a view that hides `hidden` (`kb.excluding(hidden)`); a draft citing one
    of them raises `CitationLeak`: a leak is a bug, not a metric.
    """
    seen: list[list[SearchHit]] = []
    draft = draft_requests(session, drafter, workspace, [request], on_evidence=lambda _r, h: seen.append(h))[0]
    leaked = [c for c in draft.citations if c.entry_id in hidden]
    if leaked:
        raise CitationLeak(f"{name} {request.ref}: the draft cites the held-out sheet ({leaked[0].locator})")
    return draft, seen[0] if seen else []


def hold_out(
    session: Session,
    kb: KnowledgeBase,
    workspace: str,
    name: str,
    rows: list[HeldRow],
    hidden: set[str],
    progress: Progress | None = None,
    judge: LLMJudge | None = None,
) -> SourceResult:
    """Draft `rows` from the workspace with `hidden` entries out of sight; compare with the real answers.

    Drafted without abstaining (threshold 0, the calibration applied after), so each row's
    confidence and features are known; a draft the active calibration refuses (below its threshold,
    or nothing close enough to the question) counts as an abstention.
    """
    view = kb.excluding(hidden).with_settings(kb.settings.model_copy(update={"abstain_threshold": 0.0}))
    drafter = OfflineDrafter(view)
    calibration, source_note = resolve_calibration(session, workspace, kb, None, kb.settings.calibration == "auto")
    cutoff = calibration.abstain_below if calibration else kb.settings.abstain_threshold
    result = SourceResult(name)
    for number, row in enumerate(rows, start=1):
        started = time.perf_counter()
        request = Request(row.ref, row.question, row.language, row.product)
        draft, hits = draft_held_out(session, drafter, workspace, request, hidden, name)
        shape = analyse(row.question, row.language)
        heuristic = draft.signals.get("heuristic", 0.0)
        values = feature_values(draft.signals, heuristic, draft.flags, shape, len(draft.citations))
        confidence = calibration.probability(values) if calibration else draft.signals.get("heuristic", 0.0)
        if "injection" in draft.flags:
            confidence = min(confidence, cutoff * 0.9)
        agrees, chrf, cosine = _agreement(kb, _compared_text(draft, hits), row.answer)
        drafted_choice = normalize_choice(draft.choice) if draft.choice else None
        choice_agrees = drafted_choice == row.choice if drafted_choice and row.choice else None
        refused = abstains(calibration, cutoff, confidence, draft.signals, row.language)
        abstained = refused or draft.status == NO_EVIDENCE
        draft.confidence = round(confidence, 4)
        draft.confidence_source = source_note
        if abstained:
            draft.status = NO_EVIDENCE
        item = ItemResult(row, draft, choice_agrees, agrees, chrf, cosine, values, time.perf_counter() - started)
        item.elsewhere = abstained and bool(agrees)
        item.answer_agrees_raw = agrees if choice_agrees is not False else False
        if abstained:
            item.answer_agrees, item.choice_agrees = None, None
        elif judge is not None:
            drafted_text = stated(draft.choice, _compared_text(draft, hits))
            item.judge = judge.judge(row.question, stated(row.choice, row.answer), drafted_text)
        result.items.append(item)
        if progress:
            progress(number, len(rows))
    return result


@dataclass
class HoldoutRun:
    results: list[SourceResult]

    def to_json(self) -> dict[str, Any]:
        everything = [i for r in self.results for i in r.items]
        overall = summarise("overall", everything)
        overall.pop("items")
        return {"sources": [r.summary() for r in self.results], "overall": overall}

    def items(self) -> list[ItemResult]:
        return [i for r in self.results for i in r.items]


def run_holdout(
    session: Session,
    kb: KnowledgeBase,
    workspace: str,
    sources: Sequence[str] = (),
    file: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    judge: LLMJudge | None = None,
) -> HoldoutRun:
    """Hold out each named source in turn (or evaluate an answered file from outside the workspace).

    `judge`: an LLM judge (`make_judge(settings)`) to give each drafted item a verdict as well.
    """
    get_workspace(session, workspace)  # a missing workspace is a LookupError before any work
    results = []
    if file is not None:
        rows = rows_of_file(file, kb)
        report = (lambda d, t: progress(file.name, d, t)) if progress else None
        results.append(hold_out(session, kb, workspace, file.name, rows, set(), report, judge))
    for name in sources:
        rows, hidden = rows_of_source(session, workspace, name)
        report = (lambda d, t, n=name: progress(n, d, t)) if progress else None
        results.append(hold_out(session, kb, workspace, name, rows, hidden, report, judge))
    return HoldoutRun(results)


class CalibrationError(ValueError):
    """The run has no draft a calibration could be fitted on."""


def fit_workspace_calibration(run: HoldoutRun, fallback_abstain: float) -> Calibration:
    """The workspace's own calibration from its leave-one-sheet-out drafts: right = the answer agrees."""
    rows = [(i.features, bool(i.answer_agrees_raw)) for i in run.items() if i.answer_agrees_raw is not None]
    if not rows:
        # A workspace of one sheet has nothing to draft from: no draft to fit on.
        raise CalibrationError(
            "no calibration fitted: no held-out draft could be compared with its real answer "
            "(hold out a workspace of several sheets)"
        )
    weights = fit(rows)
    calibration = Calibration(
        features=list(FEATURES),
        weights=weights,
        fitted_on="leave-one-sheet-out of the workspace's own sheets",
        samples=len(rows),
        fitted_at=datetime.now(UTC).date().isoformat(),
        abstain_below=fallback_abstain,
        bulk_accept_from=1.0,
    )
    probabilities = [calibration.probability(values) for values, _ in rows]
    calibration.bulk_accept_from = max(
        fallback_abstain, band_from(probabilities, [ok for _, ok in rows], calibration.bulk_accept_precision)
    )
    return calibration
