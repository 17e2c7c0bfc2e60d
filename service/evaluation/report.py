"""The eval's outputs: JSON (everything), Markdown (for people), a PNG chart; comparison and gate."""

from __future__ import annotations

import json
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from service.evaluation.runner import EvalResult

HEADLINE = [
    "ja.hit@1",
    "ja.recall@5",
    "ja.mrr",
    "en-ja.hit@1",
    "en-ja.recall@5",
    "en-ja.mrr",
    "draft.first_citation_relevance",
    "draft.citation_precision",
    "draft.choice_agreement",
    "draft.chrf",
    "draft.answered_rate",
    "abstain.precision",
    "abstain.recall",
]

# Clustering quality of the answer library (service.library.clustering_quality): reported, not gated.
LIBRARY = [
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "conflict_precision",
    "conflict_recall",
    "clusters",
    "conflicting_clusters",
    "labelled_entries",
    "labelled_pairs",
    "conflicts_found",
    "conflicts_labelled",
]


def markdown(result: EvalResult, compared: dict[str, tuple[float, float]] | None = None) -> str:
    lines = [f"# Eval: {result.set_name}", "", "Leave-one-sheet-out; configuration:", ""]
    lines += [f"- `{k}` = {v}" for k, v in result.config.items()]
    lines += [
        "",
        "| metric | value |" + (" previous | change |" if compared else ""),
        "|---|---|" + ("---|---|" if compared else ""),
    ]
    for key, value in result.metrics.items():
        row = f"| {key} | {value} |"
        if compared and key in compared:
            old, new = compared[key]
            row += f" {old} | {new - old:+.4f} |"
        elif compared:
            row += " | |"
        lines.append(row)
    lines += [
        "",
        "## Calibration (first citation relevant, by confidence)",
        "",
        "| bucket | drafts | mean conf. | accuracy |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {b['bucket']} | {b['drafts']} | {b['mean_confidence']} | {b['accuracy']} |" for b in result.calibration
    ]
    if result.library:
        lines += ["", "## Answer library (all sheets in one workspace, against eval/labels)", ""]
        lines += ["| measure | value |", "|---|---|"]
        lines += [f"| {k} | {result.library[k]} |" for k in LIBRARY if k in result.library]
    if result.tuning:
        fusion = [row for row in result.tuning if "rrf_k" in row]
        thresholds = [row for row in result.tuning if "abstain_threshold" in row]
        lines += ["", "## Tuning", "", "Fusion grid (chosen: highest ja MRR + en→ja MRR):", ""]
        keys = [
            "lexical_weight_ja",
            "lexical_weight_en",
            "rrf_k",
            "ja.hit@1",
            "ja.mrr",
            "ja.recall@5",
            "en-ja.hit@1",
            "en-ja.mrr",
        ]
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in fusion]
        lines += [
            "",
            "Abstain threshold (chosen: highest mean of the share of answerable questions drafted with a "
            "relevant first citation and the share of unanswerable ones refused):",
            "",
        ]
        keys = ["abstain_threshold", "answered_right", "refused", "balanced"]
        lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in thresholds]
    misses = [
        c
        for c in result.cases
        if c["relevant"] and not c["paraphrase"] and c["top5"][:1] != [] and c["top5"][0] not in c["relevant"]
    ][:15]
    if misses:
        lines += ["", "## First misses (held-out row → top result)", ""]
        lines += [f"- {c['ref']}: {c['question'][:50]} → {c['top5'][0]}" for c in misses]
    return "\n".join(lines) + "\n"


def chart(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in HEADLINE if k in result.metrics and k != "draft.chrf"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    left.barh(keys[::-1], [result.metrics[k] for k in keys[::-1]], color="#2f5bd3")
    left.set_xlim(0, 1)
    left.set_title(f"{result.set_name}: retrieval, drafts, abstention")
    for i, k in enumerate(keys[::-1]):
        left.text(min(result.metrics[k] + 0.01, 0.93), i, f"{result.metrics[k]:.2f}", va="center", fontsize=8)
    xs = [b["mean_confidence"] for b in result.calibration]
    ys = [b["accuracy"] for b in result.calibration]
    right.plot([0, 1], [0, 1], "--", color="#999")
    right.plot(xs, ys, "o-", color="#1f8a4c")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1.05)
    right.set_xlabel("confidence")
    right.set_ylabel("first citation relevant")
    right.set_title("calibration")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare(result: EvalResult, old_path: Path) -> dict[str, tuple[float, float]]:
    old = json.loads(old_path.read_text(encoding="utf-8"))["metrics"]
    return {k: (old[k], v) for k, v in result.metrics.items() if k in old and isinstance(v, int | float)}


def write(result: EvalResult, out_dir: Path, compared: dict[str, tuple[float, float]] | None = None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / f"{result.set_name}.json",
        "markdown": out_dir / f"{result.set_name}.md",
        "chart": out_dir / f"{result.set_name}.png",
    }
    paths["json"].write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    paths["markdown"].write_text(markdown(result, compared), encoding="utf-8")
    chart(result, paths["chart"])
    return paths


def gate(result: EvalResult, floors_path: Path | Traversable) -> list[str]:
    """Metrics below their floor (empty when the gate passes)."""
    return gate_metrics(result.set_name, result.metrics, floors_path)


def gate_metrics(set_name: str, metrics: dict[str, Any], floors_path: Path | Traversable) -> list[str]:
    """Metrics past their limit: a floor, or a ceiling for names ending in ".max" (lower is better)."""
    limits: dict[str, Any] = json.loads(floors_path.read_text(encoding="utf-8")).get(set_name, {})
    failures = []
    for key, limit in limits.items():
        if key.endswith(".max"):
            value = metrics.get(key.removesuffix(".max"))
            if value is None or value > limit:
                failures.append(f"{key.removesuffix('.max')}: {value} > ceiling {limit}")
        elif metrics.get(key) is None or metrics[key] < limit:
            failures.append(f"{key}: {metrics.get(key)} < floor {limit}")
    return failures
