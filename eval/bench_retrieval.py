"""Retrieval quality per language pair, ingest time and query latency, per retrieval configuration.

The numbers behind the retrieval settings (`dense_views_en`, `dense_views_ja`, `rrf_tie_break`,
`lexical_tokenizer`). Each configuration changes one thing on top of the one before it:

    baseline         e5 asymmetric ("query:" / "passage:") for both languages, BM25 bigrams for
                     Japanese, RRF ties broken by id (the defaults before vector views)
    +e5 symmetric    English questions search e5 with passages stored as "query:" too
    +USE             English questions also search multilingual USE, fused by RRF
    +tie-break       equal fused scores go to the higher e5 cosine
    +fugashi         BM25 over MeCab (unidic-lite) words as well as bigrams

and a few alternatives (USE for Japanese questions, asymmetric e5 with USE for English ones...).

Quality, on labelled questions:
- seeds ja→ja and en→ja: the `kotae eval seeds` cases (leave one seed sheet out; the English
  cases are paraphrases of Japanese rows), with the same Hit@1 / MRR / Recall@5 as the eval;
- heldout-fit en→ja and ja→ja: the answerable questions of eval/heldout/questions.jsonl whose
  "split" is "fit", against all five seeds (the "report" split is never read here).

Ingest time: parsing, storing and embedding the five seeds into a fresh knowledge base, summed
over the views a configuration needs (each view is synced and timed on its own, cold cache).
Latency: per search, median and p95 wall time, plus mean CPU time (steadier on a shared machine).

    .venv/bin/python eval/bench_retrieval.py [--only NAME ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.db import session_scope  # noqa: E402
from service.evaluation.runner import LABELS, Harness  # noqa: E402
from service.knowledge_base import KnowledgeBase, get_workspace  # noqa: E402
from service.knowledge_base.indexing import sync_vectors  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.vector_store import get_vector_index  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"
HELDOUT = ROOT / "eval" / "heldout" / "questions.jsonl"
ALL_VIEWS = ["e5", "e5_sym", "e5_sym_q", "use"]
K = 10

_BASE: dict[str, Any] = {
    "dense_views_en": ["e5"],
    "dense_views_ja": ["e5"],
    "rrf_tie_break": "id",
    "lexical_tokenizer": "bigram",
}
_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("baseline", {}),
    ("+e5 symmetric", {"dense_views_en": ["e5_sym"]}),
    ("+USE", {"dense_views_en": ["e5_sym", "use"]}),
    ("+tie-break", {"rrf_tie_break": "cosine"}),
    ("+fugashi", {"lexical_tokenizer": "fugashi"}),
]


def configurations() -> dict[str, dict[str, Any]]:
    configs: dict[str, dict[str, Any]] = {}
    current = dict(_BASE)
    for name, change in _STEPS:
        current = {**current, **change}
        configs[name] = current
    chosen = configs["+fugashi"]
    configs["alt: ja +USE"] = {**chosen, "dense_views_ja": ["e5", "use"]}
    configs["alt: en e5_sym over questions +USE"] = {**chosen, "dense_views_en": ["e5_sym_q", "use"]}
    configs["alt: en e5 asym +USE"] = {**chosen, "dense_views_en": ["e5", "use"]}
    configs["alt: en e5+e5_sym+USE"] = {**chosen, "dense_views_en": ["e5", "e5_sym", "use"]}
    configs["alt: en USE only"] = {**chosen, "dense_views_en": ["use"]}
    configs["alt: en +BM25 0.5"] = {**chosen, "lexical_weight_en": 0.5}
    return configs


def views_of(config: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*config["dense_views_ja"], *config["dense_views_en"]]))


def scores(ranked: list[str], relevant: set[str]) -> tuple[float, float, float]:
    """Hit@1, reciprocal rank and Recall@5 of one question (rows deduplicated, as the eval does)."""
    ranks = [i for i, ref in enumerate(ranked, start=1) if ref in relevant]
    hit1 = 1.0 if ranks and ranks[0] == 1 else 0.0
    recall5 = len({ref for ref in ranked[:5] if ref in relevant}) / len(relevant)
    return hit1, (1.0 / ranks[0] if ranks else 0.0), recall5


def ranked_refs(hits: list[Any]) -> list[str]:
    return list(dict.fromkeys(f"{h.entry.source.name[:3]} {h.entry.locator}" for h in hits))


def heldout_fit() -> list[dict[str, Any]]:
    """Questions of the fit split only."""
    if not HELDOUT.is_file():
        return []
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("split") == "fit"]


def quartiles(values: list[float]) -> str:
    if len(values) < 4:
        return " ".join(f"{v:.3f}" for v in values)
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.3f} / {q[1]:.3f} / {q[2]:.3f} (n={len(values)})"


class Bench:
    def __init__(self, home: Path) -> None:
        base = Settings(home=home / "eval", dense_views_en=ALL_VIEWS, dense_views_ja=["e5"])
        started = time.perf_counter()
        self.harness = Harness("seeds", LABELS, base)  # one knowledge base per held-out seed sheet
        print(f"seeds harness ingested in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        self.kb = self.harness.kb
        self.url = base.resolved_database_url
        self.heldout = heldout_fit()
        if self.heldout:
            with session_scope(self.url) as session:
                for path in sorted(SEEDS.iterdir()):
                    self.kb.ingest_file(session, "heldout", path)
            with session_scope(self.url) as session:
                self.kb.sync(session, "heldout")  # every text is in the embedding cache by now

    def run(self, config: dict[str, Any]) -> dict[str, Any]:
        kb = self.kb.with_settings(self.kb.settings.model_copy(update=config))
        groups: dict[str, list[tuple[float, float, float]]] = {}
        wall: list[float] = []
        cpu: list[float] = []

        top_similarity: dict[str, list[float]] = {}

        def search(workspace: str, text: str) -> tuple[list[str], float | None]:
            """Ranked rows and the top hit's dense_similarity."""
            w, c = time.perf_counter(), time.process_time()
            hits = kb.search(session, workspace, text, k=K)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
            return ranked_refs(hits), (hits[0].dense_similarity if hits else None)

        with session_scope(self.url) as session:
            for case in self.harness.cases:
                pair = "seeds en→ja" if case.paraphrase else f"seeds {case.language}→ja"
                if case.relevant and pair in ("seeds ja→ja", "seeds en→ja"):
                    ranked, _ = search(f"eval-{case.ref[0]}", case.text)
                    groups.setdefault(pair, []).append(scores(ranked, {" ".join(r) for r in case.relevant}))
            for row in self.heldout:
                ranked, top = search("heldout", row["question"])
                relevant = set(row["relevant"])
                if row["answerable"] and relevant:
                    groups.setdefault(f"heldout-fit {row['language']}→ja", []).append(scores(ranked, relevant))
                # The top hit's dense_similarity (what the drafting confidence reads), by outcome.
                right = bool(ranked) and ranked[0] in relevant
                outcome = "unanswerable" if not row["answerable"] else "right" if right else "wrong"
                if top is not None:
                    top_similarity.setdefault(f"{row['language']} {outcome}", []).append(top)
        result: dict[str, Any] = {}
        for pair, values in groups.items():
            result[pair] = {
                "n": len(values),
                "hit@1": round(statistics.mean(v[0] for v in values), 3),
                "mrr": round(statistics.mean(v[1] for v in values), 3),
                "recall@5": round(statistics.mean(v[2] for v in values), 3),
            }
        result["top dense_similarity quartiles"] = {k: quartiles(v) for k, v in sorted(top_similarity.items())}
        wall.sort()
        result["latency"] = {
            "p50_ms": round(1000 * statistics.median(wall), 1),
            "p95_ms": round(1000 * wall[int(0.95 * (len(wall) - 1))], 1),
            "cpu_ms": round(1000 * statistics.mean(cpu), 1),
        }
        return result


def ingest_costs(home: Path) -> dict[str, dict[str, float]]:
    """Seconds (wall, CPU) to parse and store the five seeds, and to sync each view from a cold cache."""
    settings = Settings(home=home / "ingest", dense_views_en=ALL_VIEWS, dense_views_ja=["e5"])
    kb = KnowledgeBase(settings)
    url = settings.resolved_database_url
    costs: dict[str, dict[str, float]] = {}
    w, c = time.perf_counter(), time.process_time()
    for path in sorted(SEEDS.iterdir()):
        with session_scope(url) as session:
            kb.ingest_file(session, "seeds", path)
    costs["store"] = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    for view in ALL_VIEWS:
        index = get_vector_index(settings, kb.embeddings, {view: kb.vectors.views[view]})
        index.views[view].embed_passages(["warm up"])  # model loading is not ingest time
        w, c = time.perf_counter(), time.process_time()
        with session_scope(url) as session:
            sync_vectors(session, get_workspace(session, "seeds"), index)
        costs[view] = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    return costs


def table(results: dict[str, dict[str, Any]], costs: dict[str, dict[str, float]]) -> str:
    pairs = sorted({p for r in results.values() for p in r if "→" in p})
    head = ["configuration", *[f"{p} Hit@1 / MRR (n)" for p in pairs], "ingest s (CPU)", "query p50 / p95 ms (CPU)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        cells = [name]
        for p in pairs:
            m = r.get(p)
            cells.append(f"{m['hit@1']:.3f} / {m['mrr']:.3f} ({m['n']})" if m else "")
        views = views_of(configurations()[name])
        wall = costs["store"]["wall"] + sum(costs[v]["wall"] for v in views)
        cpu = costs["store"]["cpu"] + sum(costs[v]["cpu"] for v in views)
        cells.append(f"{wall:.0f} ({cpu:.0f})")
        lat = r["latency"]
        cells.append(f"{lat['p50_ms']:.0f} / {lat['p95_ms']:.0f} ({lat['cpu_ms']:.0f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="configuration names to run (default: all)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    configs = configurations()
    names = args.only or list(configs)
    with tempfile.TemporaryDirectory() as tmp:
        costs = ingest_costs(Path(tmp))
        print("ingest:", {k: {m: round(v, 1) for m, v in c.items()} for k, c in costs.items()}, file=sys.stderr)
        bench = Bench(Path(tmp))
        results = {}
        for name in names:
            results[name] = bench.run(configs[name])
            print(name, json.dumps(results[name], ensure_ascii=False), file=sys.stderr)
    print(table(results, costs))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ingest": costs}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
