"""The held-out questionnaire set: customer-style questions nobody tuned on, drafted from the seeds.

The questions (eval/heldout/questions.jsonl, shipped as package data) were written and labelled
before any tuning: each names the seed rows that answer it and the choice that answers it as
asked, or is unanswerable. Half of them ("fit") fit the confidence calibration and its
thresholds; the other half ("report") is only ever reported on.

A draft is *right* when the question is answerable, its first citation is a labelled row, and its
choice is not wrong (absent, or the expected one). A draft of an unanswerable question is wrong.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from service.db import session_scope
from service.drafting import Draft, Request, draft_requests
from service.drafting.calibration import Calibration, abstains, band_from, feature_values, fit, reliability
from service.drafting.offline import OfflineDrafter
from service.drafting.questions import analyse
from service.ingest.choices import normalize_choice
from service.knowledge_base import KnowledgeBase, SearchHit
from service.settings import Settings

QUESTIONS = resources.files("service.evaluation") / "heldout" / "questions.jsonl"
SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
WORKSPACE = "seeds"
# Goals from the drafting issue: what the thresholds are chosen to meet on the fit split.
UNANSWERABLE_ABSTAIN_GOAL = 0.80
FALSE_ABSTENTION_LIMIT = 0.15
BULK_ACCEPT_PRECISION = 0.90
# The band fitted on 188 drafts did not hold on the report split (0.56 fitted: 71% right there;
# 0.8 and up: 90% right), so bulk accept never starts below this.
BULK_ACCEPT_FLOOR = 0.8


@dataclass
class Outcome:
    question: dict[str, Any]
    draft: Draft  # drafted without abstaining, so every question has its full candidate
    ranked: list[str]  # "000 No.19" refs of the retrieved entries, best first
    features: dict[str, float]
    right: bool
    seconds: float


def load_questions() -> list[dict[str, Any]]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _ref(hit_source: str, locator: str) -> str:
    return f"{hit_source[:3]} {locator}"


def is_right(question: dict[str, Any], draft: Draft) -> bool:
    if not question["answerable"] or not draft.citations:
        return False
    first = draft.citations[0]
    if _ref(first.source, first.locator) not in set(question["relevant"]):
        return False
    chosen = normalize_choice(draft.choice) if draft.choice else None
    return chosen is None or question.get("expected_choice") in (None, chosen)


def draft_all(settings: Settings, seeds: Path = SEEDS) -> list[Outcome]:
    """Every held-out question drafted from the five seeds, without abstaining (the calibration decides)."""
    if not seeds.is_dir():
        raise FileNotFoundError(f"the seed sheets are missing: expected them in {seeds}")
    questions = load_questions()
    with tempfile.TemporaryDirectory() as home:
        base = settings.model_copy(update={"home": Path(home), "database_url": None, "chroma_path": None})
        kb = KnowledgeBase(base.model_copy(update={"vector_store": "chroma_local"}))
        url = kb.settings.resolved_database_url
        for path in sorted(p for p in seeds.iterdir() if p.is_file()):
            with session_scope(url) as session:
                kb.ingest_file(session, WORKSPACE, path)
        with session_scope(url) as session:
            kb.sync(session, WORKSPACE)
        # Threshold 0 and no calibration: every question keeps its full draft and its signals.
        drafter = OfflineDrafter(kb.with_settings(kb.settings.model_copy(update={"abstain_threshold": 0.0})))
        outcomes = []
        with session_scope(url) as session:
            seen: list[list[SearchHit]] = []
            for question in questions:
                seen.clear()
                started = time.perf_counter()
                request = Request(question["id"], question["question"], question["language"], None)
                draft = draft_requests(
                    session, drafter, WORKSPACE, [request], on_evidence=lambda _r, h: seen.append(h)
                )[0]
                seconds = time.perf_counter() - started
                ranked = list(dict.fromkeys(_ref(h.entry.source.name, h.entry.locator) for h in seen[0]))
                shape = analyse(question["question"], question["language"])
                values = feature_values(
                    draft.signals, draft.signals.get("heuristic", 0.0), draft.flags, shape, len(draft.citations)
                )
                outcomes.append(Outcome(question, draft, ranked, values, is_right(question, draft), seconds))
    return outcomes


def answerable_thresholds(outcomes: list[Outcome], views: dict[str, str]) -> dict[str, float]:
    """Per language, the evidence cosine below which a question is taken to have no answer.

    Chosen to refuse the goal's share of unanswerable questions while refusing as few answerable
    ones as it can; where no threshold refuses enough, the one that does best on both.
    """
    thresholds: dict[str, float] = {}
    for language in views:
        rows = [
            (o.draft.signals["evidence_similarity"], o.question["answerable"])
            for o in outcomes
            if o.question["language"] == language and "evidence_similarity" in o.draft.signals
        ]
        unanswerable = [s for s, answerable in rows if not answerable]
        answerable = [s for s, answerable in rows if answerable]
        if not unanswerable or not answerable:
            continue
        best, best_score = None, -1.0
        for t in sorted({s for s, _ in rows}):
            refused = sum(s < t for s in unanswerable) / len(unanswerable)
            falsely = sum(s < t for s in answerable) / len(answerable)
            score = 2.0 - falsely if refused >= UNANSWERABLE_ABSTAIN_GOAL else refused - falsely
            if score > best_score + 1e-9:
                best, best_score = t, score
        if best is not None:
            thresholds[language] = round(best, 4)
    return thresholds


def choose_threshold(probabilities: list[float], outcomes: list[Outcome], gated: list[bool] | None = None) -> float:
    """The abstain threshold that meets the goals on these outcomes, refusing as little as it can.

    `gated`: outcomes that abstain anyway (nothing close enough to the question)."""
    gated = gated or [False] * len(outcomes)
    best, best_score = 0.5, -1.0
    for step in range(2, 90):
        t = step / 100
        refusing = [p < t or g for p, g in zip(probabilities, gated, strict=True)]
        unanswerable = [r for r, o in zip(refusing, outcomes, strict=True) if not o.question["answerable"]]
        answerable = [r for r, o in zip(refusing, outcomes, strict=True) if o.question["answerable"]]
        refused = sum(unanswerable) / len(unanswerable) if unanswerable else 1.0
        falsely = sum(answerable) / len(answerable) if answerable else 0.0
        meets = refused >= UNANSWERABLE_ABSTAIN_GOAL and falsely <= FALSE_ABSTENTION_LIMIT
        score = (2.0 if meets else 0.0) + refused + (1.0 - falsely)
        if score > best_score + 1e-9:
            best, best_score = t, score
    return best


def calibrate(outcomes: list[Outcome], fitted_on: str, evidence_views: dict[str, str]) -> Calibration:
    """Fit the calibration and its thresholds on these outcomes (the fit split).

    `evidence_views`: per language, the view the outcomes' evidence cosines were measured in."""
    rows = [(o.features, o.right) for o in outcomes]
    weights = fit(rows)
    from service.drafting.calibration import FEATURES

    calibration = Calibration(
        features=list(FEATURES),
        weights=weights,
        fitted_on=fitted_on,
        samples=len(rows),
        fitted_at=datetime.now(UTC).date().isoformat(),
        abstain_below=0.5,
        bulk_accept_from=1.0,
        bulk_accept_precision=BULK_ACCEPT_PRECISION,
    )
    calibration.answerable_from = answerable_thresholds(outcomes, evidence_views)
    calibration.evidence_views = {k: v for k, v in evidence_views.items() if k in calibration.answerable_from}
    probabilities = [calibration.probability(o.features) for o in outcomes]
    gated = [calibration.far_from_evidence(o.draft.signals, o.question["language"]) for o in outcomes]
    calibration.abstain_below = choose_threshold(probabilities, outcomes, gated)
    drafted = [
        (p, o.right)
        for p, o in zip(probabilities, outcomes, strict=True)
        if not abstains(calibration, calibration.abstain_below, p, o.draft.signals, o.question["language"])
        and not o.draft.flags
    ]
    calibration.bulk_accept_from = max(
        BULK_ACCEPT_FLOOR, band_from([p for p, _ in drafted], [r for _, r in drafted], BULK_ACCEPT_PRECISION)
    )
    return calibration


def report(outcomes: list[Outcome], calibration: Calibration | None) -> dict[str, Any]:
    """Metrics on these outcomes, with confidence from the calibration (or the hand-set blend)."""
    metrics: dict[str, Any] = {"questions": len(outcomes)}
    cutoff = calibration.abstain_below if calibration else Settings().abstain_threshold
    probabilities = [
        calibration.probability(o.features) if calibration else o.features.get("heuristic", 0.0) for o in outcomes
    ]
    # As drafting does: a question carrying instructions never rises above the abstain threshold.
    probabilities = [
        min(p, cutoff * 0.9) if "injection" in o.draft.flags else p
        for p, o in zip(probabilities, outcomes, strict=True)
    ]
    for language in ("ja", "en"):
        rows = [o for o in outcomes if o.question["language"] == language and o.question["answerable"]]
        ranks = [next((i for i, r in enumerate(o.ranked, 1) if r in set(o.question["relevant"])), None) for o in rows]
        if rows:
            metrics[f"{language}.hit@1"] = round(sum(1 for r in ranks if r == 1) / len(rows), 4)
            metrics[f"{language}.mrr"] = round(statistics.mean(1 / r if r else 0.0 for r in ranks), 4)
    answerable = [(p, o) for p, o in zip(probabilities, outcomes, strict=True) if o.question["answerable"]]
    unanswerable = [(p, o) for p, o in zip(probabilities, outcomes, strict=True) if not o.question["answerable"]]

    def refuses(p: float, o: Outcome) -> bool:
        return abstains(calibration, cutoff, p, o.draft.signals, o.question["language"])

    abstained = [(p, o) for p, o in zip(probabilities, outcomes, strict=True) if refuses(p, o)]
    metrics["abstention.recall"] = round(sum(refuses(p, o) for p, o in unanswerable) / max(1, len(unanswerable)), 4)
    metrics["abstention.precision"] = round(
        sum(not o.question["answerable"] for _, o in abstained) / max(1, len(abstained)), 4
    )
    metrics["abstention.false_rate"] = round(sum(refuses(p, o) for p, o in answerable) / max(1, len(answerable)), 4)
    drafted = [(p, o) for p, o in zip(probabilities, outcomes, strict=True) if not refuses(p, o)]
    metrics["drafted.right"] = round(sum(o.right for _, o in drafted) / max(1, len(drafted)), 4)
    high = [(p, o) for p, o in drafted if p >= 0.8]
    metrics["confidence>=0.8.count"] = len(high)
    metrics["confidence>=0.8.right"] = round(sum(o.right for _, o in high) / len(high), 4) if high else None
    if calibration:
        band = [(p, o) for p, o in drafted if p >= calibration.bulk_accept_from and not o.draft.flags]
        metrics["bulk_accept_band.count"] = len(band)
        metrics["bulk_accept_band.right"] = round(sum(o.right for _, o in band) / len(band), 4) if band else None
    yes_no = [o for _, o in drafted if analyse(o.question["question"], o.question["language"]).wants_choice]
    metrics["yesno.without_choice"] = round(sum(o.draft.choice is None for o in yes_no) / max(1, len(yes_no)), 4)
    opened = [o for _, o in drafted if o.question["kind"] == "open"]
    metrics["open.with_choice"] = round(sum(o.draft.choice is not None for o in opened) / max(1, len(opened)), 4)
    metrics["seconds.p50"] = round(statistics.median(o.seconds for o in outcomes), 4)
    flags = Counter(f for _, o in drafted for f in o.draft.flags)
    return {
        "metrics": metrics,
        "reliability": reliability([p for p, _ in drafted], [o.right for _, o in drafted]),
        "flags": dict(sorted(flags.items())),
        "items": [
            {
                "id": o.question["id"],
                "confidence": round(p, 4),
                "abstained": refuses(p, o),
                "right": o.right,
                "choice": o.draft.choice,
                "expected_choice": o.question.get("expected_choice"),
                "cited": [_ref(c.source, c.locator) for c in o.draft.citations],
                "flags": o.draft.flags,
            }
            for p, o in zip(probabilities, outcomes, strict=True)
        ],
    }
