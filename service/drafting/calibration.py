"""Confidence that means something: the probability that a draft is right, fitted on labelled drafts.

A hand-set blend of retrieval signals barely separated right from wrong drafts on questionnaires
written by others. A logistic model over the same signals, the question's shape and the draft's
flags, fitted on labelled questions ("is the first citation relevant, and is the choice not
wrong?"), gives a number a reviewer can read as "drafts at 0.8 are right about 8 times in 10".

The fitted model is a small JSON document: feature names, weights, when and on how many labelled
drafts it was fitted, and the thresholds chosen with it (abstain below, bulk accept at or above).
The project ships one fitted on its own held-out set (`calibration.json` beside this module); a
workspace may hold its own, fitted on its history (the eval's `--calibrate`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

FEATURES = (
    "bias",
    "dense",
    "agree",
    "coverage",
    "missing_key_terms",
    "margin",
    "question_overlap",
    "dense_top",
    "cross_language",
    "heuristic",
    "open_question",
    "compound",
    "choice_withheld",
    "conflicting_evidence",
    "inverted_choice",
    "citations",
)


@dataclass
class Calibration:
    features: list[str]
    weights: list[float]
    fitted_on: str  # what the labelled drafts were (e.g. "eval/heldout fit split")
    samples: int
    fitted_at: str  # ISO date
    abstain_below: float  # drafts less likely right than this say "no evidence"
    bulk_accept_from: float  # the band measured right at least `bulk_accept_precision` of the time
    bulk_accept_precision: float = 0.9
    scale: list[float] = field(default_factory=list)  # feature scaling used in fitting (kept for reading)
    # Whether the knowledge base answers a question at all is a different question from whether a
    # draft is right: per language, the cosine of the question and its best hit in the evidence view
    # (`evidence_views`, settings `evidence_view_ja|en`) below which a draft says "no evidence".
    answerable_from: dict[str, float] = field(default_factory=dict)
    evidence_views: dict[str, str] = field(default_factory=dict)

    def probability(self, values: Mapping[str, float]) -> float:
        z = sum(w * float(values.get(name, 0.0)) for name, w in zip(self.features, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def far_from_evidence(self, signals: Mapping[str, float], language: str, evidence_view: str | None = None) -> bool:
        """Nothing in the knowledge base comes close enough to the question to answer it. The
        threshold holds only in the view it was measured in (`evidence_view`: the one the search
        read the cosine in; None: as recorded)."""
        threshold = self.answerable_from.get(language)
        similarity = signals.get("evidence_similarity")
        if threshold is None or similarity is None:
            return False
        if evidence_view is not None and self.evidence_views.get(language) != evidence_view:
            return False
        return similarity < threshold

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def abstains(
    calibration: Calibration | None,
    threshold: float,
    confidence: float,
    signals: Mapping[str, float],
    language: str,
    evidence_view: str | None = None,
) -> bool:
    """No evidence: the one decision drafting and both evals take. With a calibration, nothing close
    enough to the question, or what is close unlikely to answer it right; without one, the hand-set
    confidence below `threshold`."""
    if calibration is None:
        return confidence < threshold
    return confidence < calibration.abstain_below or calibration.far_from_evidence(signals, language, evidence_view)


def feature_values(
    signals: Mapping[str, float], heuristic: float, flags: Sequence[str], shape: Any, cited: int
) -> dict:
    """The calibration's inputs for one draft (signals from evidence.score, the question's shape, flags)."""
    values = {name: float(signals.get(name, 0.0)) for name in FEATURES if name in signals}
    values.update(
        bias=1.0,
        heuristic=heuristic,
        open_question=0.0 if shape.wants_choice else 1.0,
        compound=1.0 if shape.parts > 1 else 0.0,
        # An inferred Yes is still a choice the evidence did not state: the model sees it as withheld.
        choice_withheld=1.0 if "choice_withheld" in flags or "choice_inferred" in flags else 0.0,
        conflicting_evidence=1.0 if "conflicting_evidence" in flags else 0.0,
        inverted_choice=1.0 if "inverted_choice" in flags else 0.0,
        citations=float(min(cited, 3)) / 3,
    )
    return values


def fit(rows: Sequence[tuple[Mapping[str, float], bool]], l2: float = 1.0, iterations: int = 50) -> list[float]:
    """Weights of an L2-regularised logistic regression (Newton steps), the bias unpenalised."""
    x = np.array([[float(values.get(name, 0.0)) for name in FEATURES] for values, _ in rows])
    y = np.array([1.0 if right else 0.0 for _, right in rows])
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return [round(float(v), 6) for v in w]


def band_from(probabilities: Sequence[float], right: Sequence[bool], precision: float, minimum: int = 10) -> float:
    """The lowest confidence from which drafts are right at least `precision` of the time (1.0 if none)."""
    pairs = sorted(zip(probabilities, right, strict=True), reverse=True)
    best = 1.0
    correct = 0
    for count, (p, ok) in enumerate(pairs, start=1):
        correct += ok
        if count >= minimum and correct / count >= precision:
            best = p
    return round(best, 4)


def reliability(
    probabilities: Sequence[float], right: Sequence[bool], edges: Sequence[float] = (0.2, 0.4, 0.6, 0.8)
) -> list[dict[str, Any]]:
    """Confidence band -> (count, share right): what the reliability table and plot show."""
    bounds = [0.0, *edges, 1.0001]
    table = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        members = [ok for p, ok in zip(probabilities, right, strict=True) if low <= p < high]
        band = f"{low:.1f}–{min(high, 1.0):.1f}"
        table.append(
            {"band": band, "count": len(members), "right": round(sum(members) / len(members), 4) if members else None}
        )
    return table


@lru_cache(maxsize=1)
def shipped() -> Calibration | None:
    """The calibration fitted on the project's held-out set, when one has been fitted."""
    path = resources.files("service.drafting") / "calibration.json"
    if not path.is_file():
        return None
    return Calibration.from_json(json.loads(path.read_text(encoding="utf-8")))
