from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from sacrebleu.metrics import CHRF

from service.db import session_scope
from service.drafting import Request, get_drafter
from service.drafting.llm import evidence_text
from service.evaluation.holdout import draft_held_out, source_entries
from service.ingest import ParsedItem, parse_file
from service.ingest.choices import normalize_choice
from service.knowledge_base import KnowledgeBase, SearchHit, get_workspace
from service.llm import count_tokens
from service.settings import Settings

# The built-in labelled sets are read from a checkout: the seeds beside it in ../shared, the
# samples in knowledge_base/. Their labels and floors ship with the package.
ROOT = Path(__file__).resolve().parents[2]
SETS = {
    "seeds": (ROOT.parent / "shared" / "seeds", lambda p: p.name[:3]),
    "samples": (ROOT / "knowledge_base", lambda p: p.stem),
}
LABELS = resources.files("service.evaluation") / "labels"
FLOORS = resources.files("service.evaluation") / "floors.json"
Ref = tuple[str, str]  # (sheet key, locator)
_chrf = CHRF()


@dataclass
class Case:
    ref: Ref
    text: str
    language: str
    relevant: set[Ref]
    held_out: ParsedItem
    paraphrase: bool = False


@dataclass
class CaseResult:
    case: Case
    ranked: list[Ref]
    seconds: float
    draft_status: str
    confidence: float
    citations: list[Ref]
    draft_choice: str | None
    draft_answer: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class EvalResult:
    set_name: str
    config: dict[str, Any]
    metrics: dict[str, float]
    calibration: list[dict[str, float]]
    tuning: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    library: dict[str, Any] | None = None  # clustering quality, when the labels name rows of this set

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.set_name,
            "config": self.config,
            "metrics": self.metrics,
            "calibration": self.calibration,
            "tuning": self.tuning,
            "cases": self.cases,
            "library": self.library,
        }


def _ref(text: str) -> Ref:
    key, locator = text.split(" ", 1)
    return key, locator


def load_cases(set_name: str, labels_dir: Traversable) -> tuple[dict[str, Path], list[Case]]:
    folder, key_of = SETS[set_name]
    if not folder.is_dir():
        raise FileNotFoundError(f"the {set_name} sheets are missing: expected them in {folder}")
    files = {key_of(p): p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".py"}
    labels = json.loads((labels_dir / f"{set_name}.json").read_text(encoding="utf-8"))
    items: dict[Ref, ParsedItem] = {}
    for key, path in files.items():
        for item in parse_file(path).items:
            items.setdefault((key, item.locator), item)

    relevant: dict[Ref, set[Ref]] = defaultdict(set)
    for group in labels["groups"]:
        members = [_ref(m) for m in group["members"]]
        for member in members:
            relevant[member].update(m for m in members if m[0] != member[0])
    cases: list[Case] = []
    missing = [r for r in list(relevant) + [_ref(u) for u in labels["unanswerable"]] if r not in items]
    if missing:
        raise ValueError(f"labels name rows the parser does not produce: {missing[:5]}")
    for ref, rel in sorted(relevant.items()):
        if rel:
            item = items[ref]
            cases.append(Case(ref, item.question, item.language, rel, item))
    for text in labels["unanswerable"]:
        item = items[_ref(text)]
        cases.append(Case(_ref(text), item.question, item.language, set(), item))
    for text, paraphrase in labels.get("paraphrases_en", {}).items():
        ref = _ref(text)
        cases.append(Case(ref, paraphrase, "en", relevant.get(ref, set()), items[ref], paraphrase=True))
    return files, cases


def _ranked(hits: list[SearchHit], key_of_source: dict[str, str]) -> list[Ref]:
    seen: list[Ref] = []
    for hit in hits:
        ref = (key_of_source[hit.entry.source.name], hit.entry.locator)
        if ref not in seen:
            seen.append(ref)
    return seen


def _choice_key(label: str | None) -> str | None:
    return normalize_choice(label or "") if label else None


class Harness:
    """A labelled set as `kotae eval holdout` sees a workspace: every sheet ingested once into one
    workspace, each held out in turn through the same read-only view (`kb.excluding`) and drafted
    through the same step (`draft_held_out`, which raises on a citation of the held-out sheet)."""

    def __init__(self, set_name: str, labels_dir: Traversable, settings: Settings) -> None:
        self.set_name = set_name
        self.labels_dir = labels_dir
        self.files, self.cases = load_cases(set_name, labels_dir)
        self.settings = settings
        self.kb = KnowledgeBase(settings)
        self.workspace = f"eval-{set_name}"
        url = settings.resolved_database_url
        self.key_of_source = {path.name: key for key, path in self.files.items()}
        for path in self.files.values():
            with session_scope(url) as session:
                self.kb.ingest_file(session, self.workspace, path)
        with session_scope(url) as session:
            self.kb.sync(session, self.workspace)
            self.hidden = {
                key: frozenset(e.id for e in source_entries(session, self.workspace, path.name))
                for key, path in self.files.items()
            }

    def run_cases(self, settings: Settings, with_drafts: bool = True) -> list[CaseResult]:
        # One drafter per held-out sheet, over a view that hides it; the evidence seen gives the ranking.
        drafters = {
            key: get_drafter(self.kb.excluding(hidden).with_settings(settings)) for key, hidden in self.hidden.items()
        }
        results = []
        with session_scope(self.settings.resolved_database_url) as session:
            for case in self.cases:
                key = case.ref[0]
                started = time.perf_counter()
                request = Request(" ".join(case.ref), case.text, case.language, None)
                draft, hits = draft_held_out(session, drafters[key], self.workspace, request, self.hidden[key], key)
                seconds = time.perf_counter() - started
                prompt = evidence_text(hits[:5], settings.llm_evidence_tokens)[0] + case.text if with_drafts else ""
                results.append(
                    CaseResult(
                        case=case,
                        ranked=_ranked(hits, self.key_of_source),
                        seconds=seconds,
                        draft_status=draft.status,
                        confidence=draft.confidence,
                        citations=[(self.key_of_source[c.source], c.locator) for c in draft.citations],
                        draft_choice=draft.choice,
                        draft_answer=draft.answer,
                        prompt_tokens=count_tokens(prompt) if with_drafts else 0,
                        completion_tokens=count_tokens(draft.answer) if with_drafts else 0,
                    )
                )
        return results

    def clustering(self) -> dict[str, Any]:
        """The answer library's clusters and conflicts of the whole set, against the labels."""
        # Imported here: service.library reads its labels through this package (an import cycle at load).
        from service.library import clustering_quality

        with session_scope(self.settings.resolved_database_url) as session:
            return clustering_quality(session, self.kb, get_workspace(session, self.workspace), self.labels_dir)


def retrieval_metrics(results: list[CaseResult]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    groups = {
        "ja": [r for r in results if r.case.relevant and not r.case.paraphrase and r.case.language == "ja"],
        "en-ja": [r for r in results if r.case.relevant and r.case.paraphrase],
    }
    for name, rows in groups.items():
        if not rows:
            continue
        hit1, recall5, rr = [], [], []
        for r in rows:
            ranks = [i for i, ref in enumerate(r.ranked, start=1) if ref in r.case.relevant]
            hit1.append(1.0 if ranks and ranks[0] == 1 else 0.0)
            recall5.append(len({ref for ref in r.ranked[:5] if ref in r.case.relevant}) / len(r.case.relevant))
            rr.append(1.0 / ranks[0] if ranks else 0.0)
        metrics[f"{name}.questions"] = len(rows)
        metrics[f"{name}.hit@1"] = round(statistics.mean(hit1), 4)
        metrics[f"{name}.recall@5"] = round(statistics.mean(recall5), 4)
        metrics[f"{name}.mrr"] = round(statistics.mean(rr), 4)
    return metrics


def draft_metrics(results: list[CaseResult], price_in: float, price_out: float) -> dict[str, float]:
    metrics: dict[str, float] = {}
    answerable = [r for r in results if r.case.relevant and not r.case.paraphrase]
    drafted = [r for r in answerable if r.draft_status == "drafted"]
    if drafted:
        metrics["draft.first_citation_relevance"] = round(
            statistics.mean(1.0 if r.citations[0] in r.case.relevant else 0.0 for r in drafted), 4
        )
        metrics["draft.citation_precision"] = round(
            statistics.mean(sum(1 for c in r.citations if c in r.case.relevant) / len(r.citations) for r in drafted), 4
        )
        both = [r for r in drafted if r.draft_choice and r.case.held_out.choice]
        if both:
            metrics["draft.choice_agreement"] = round(
                statistics.mean(1.0 if _choice_key(r.draft_choice) == r.case.held_out.choice else 0.0 for r in both), 4
            )
            metrics["draft.choice_pairs"] = len(both)
        metrics["draft.chrf"] = round(
            statistics.mean(_chrf.sentence_score(r.draft_answer, [r.case.held_out.answer]).score for r in drafted), 2
        )
    metrics["draft.answered_rate"] = round(len(drafted) / len(answerable), 4) if answerable else 0.0
    originals = [r for r in results if not r.case.paraphrase]
    unanswerable = [r for r in originals if not r.case.relevant]
    abstained = [r for r in originals if r.draft_status == "no_evidence"]
    true_abstain = [r for r in abstained if not r.case.relevant]
    metrics["abstain.precision"] = round(len(true_abstain) / len(abstained), 4) if abstained else 0.0
    metrics["abstain.recall"] = round(len(true_abstain) / len(unanswerable), 4) if unanswerable else 0.0
    metrics["abstain.unanswerable"] = len(unanswerable)
    seconds = sorted(r.seconds for r in results)
    metrics["latency.p50_ms"] = round(1000 * statistics.median(seconds), 1)
    metrics["latency.p95_ms"] = round(1000 * seconds[min(len(seconds) - 1, int(0.95 * (len(seconds) - 1)))], 1)
    prompt = sum(r.prompt_tokens for r in results)
    completion = sum(r.completion_tokens for r in results)
    metrics["tokens.prompt"] = prompt
    metrics["tokens.completion"] = completion
    metrics["cost.usd_if_llm"] = round(prompt / 1e6 * price_in + completion / 1e6 * price_out, 4)
    return metrics


def calibration(results: list[CaseResult]) -> list[dict[str, float]]:
    """Is a 0.9 draft right 90% of the time? Right = its first citation is a relevant row."""
    buckets = []
    originals = [r for r in results if not r.case.paraphrase and r.draft_status == "drafted"]
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        high = low + 0.2
        rows = [r for r in originals if low <= r.confidence < high or (high >= 1.0 and r.confidence >= 1.0)]
        if rows:
            right = sum(1 for r in rows if r.citations and r.citations[0] in r.case.relevant)
            buckets.append(
                {
                    "bucket": f"{low:.1f}-{high:.1f}",
                    "drafts": len(rows),
                    "accuracy": round(right / len(rows), 4),
                    "mean_confidence": round(statistics.mean(r.confidence for r in rows), 4),
                }
            )
    return buckets


def _case_json(r: CaseResult) -> dict[str, Any]:
    return {
        "ref": " ".join(r.case.ref),
        "question": r.case.text,
        "paraphrase": r.case.paraphrase,
        "relevant": sorted(" ".join(x) for x in r.case.relevant),
        "top5": [" ".join(x) for x in r.ranked[:5]],
        "status": r.draft_status,
        "confidence": r.confidence,
        "citations": [" ".join(x) for x in r.citations],
        "choice": r.draft_choice,
        "expected_choice": r.case.held_out.choice,
    }


def tune(harness: Harness, base: Settings) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Grid over the fusion weights, then the abstain threshold; returns the grid and the winner."""
    grid = []
    for lexical_ja in (0.0, 0.5, 1.0, 1.5):
        for lexical_en in (0.0, 0.5):
            for rrf_k in (20, 60):
                settings = base.model_copy(
                    update={"lexical_weight_ja": lexical_ja, "lexical_weight_en": lexical_en, "rrf_k": rrf_k}
                )
                m = retrieval_metrics(harness.run_cases(settings, with_drafts=False))
                grid.append(
                    {
                        "lexical_weight_ja": lexical_ja,
                        "lexical_weight_en": lexical_en,
                        "rrf_k": rrf_k,
                        **{k: v for k, v in m.items() if not k.endswith("questions")},
                    }
                )
    best = max(grid, key=lambda g: (g.get("ja.mrr", 0) + g.get("en-ja.mrr", 0), g.get("ja.hit@1", 0)))
    fusion = {k: best[k] for k in ("lexical_weight_ja", "lexical_weight_en", "rrf_k")}
    results = harness.run_cases(base.model_copy(update={**fusion, "abstain_threshold": 0.0}), with_drafts=False)
    originals = [r for r in results if not r.case.paraphrase]
    thresholds = []
    for step in range(5, 80, 5):
        threshold = step / 100
        answerable = [r for r in originals if r.case.relevant]
        unanswerable = [r for r in originals if not r.case.relevant]
        kept = sum(
            1 for r in answerable if r.confidence >= threshold and r.citations and r.citations[0] in r.case.relevant
        )
        refused = sum(1 for r in unanswerable if r.confidence < threshold)
        # Balanced: share of answerable questions drafted right, and share of unanswerable ones refused.
        score = (kept / len(answerable) if answerable else 0) + (refused / len(unanswerable) if unanswerable else 0)
        thresholds.append(
            {
                "abstain_threshold": threshold,
                "answered_right": kept,
                "refused": refused,
                "balanced": round(score / 2, 4),
            }
        )
    best_threshold = max(thresholds, key=lambda t: (t["balanced"], -t["abstain_threshold"]))
    chosen = {**fusion, "abstain_threshold": best_threshold["abstain_threshold"]}
    return grid + thresholds, chosen


def run(
    set_name: str,
    labels_dir: Traversable = LABELS,
    settings: Settings | None = None,
    price_in: float = 0.15,
    price_out: float = 0.60,
    do_tune: bool = False,
) -> EvalResult:
    with tempfile.TemporaryDirectory() as home:
        base = (settings or Settings()).model_copy(
            update={"home": Path(home), "database_url": None, "vector_store": "chroma_local", "chroma_path": None}
        )
        harness = Harness(set_name, labels_dir, base)
        tuning: list[dict[str, Any]] = []
        if do_tune:
            tuning, chosen = tune(harness, base)
            base = base.model_copy(update=chosen)
        results = harness.run_cases(base)
        library = harness.clustering()
    metrics = {**retrieval_metrics(results), **draft_metrics(results, price_in, price_out)}
    config = {
        k: getattr(base, k)
        for k in (
            "embedding_backend",
            "lexical_weight_ja",
            "lexical_weight_en",
            "dense_weight",
            "rrf_k",
            "abstain_threshold",
        )
    }
    config["labelled_questions"] = len([c for c in harness.cases if not c.paraphrase])
    cases = [_case_json(r) for r in results]
    shown = library if library["labelled_entries"] else None  # the library labels name rows of the seeds only
    return EvalResult(set_name, config, metrics, calibration(results), tuning, cases, shown)


__all__ = ["EvalResult", "run"]
