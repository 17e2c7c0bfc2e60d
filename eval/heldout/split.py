"""Assign each held-out question to the "fit" or "report" split.

Deterministic: a seeded draw (seed 17), stratified by language x answerable, so each stratum is
split as evenly as possible (odd strata alternate which side gets the extra question).
The draw depends only on the ids present, not on the text, so fixing a question's wording or
labels never moves it between splits. Rewrites questions.jsonl in place, keeping line order.

    .venv/bin/python eval/heldout/split.py
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

SEED = 17
PATH = Path(__file__).with_name("questions.jsonl")


def assign(rows: list[dict]) -> dict[str, str]:
    strata: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for r in rows:
        strata[(r["language"], bool(r["answerable"]))].append(r["id"])
    rng = random.Random(SEED)
    split: dict[str, str] = {}
    odd = 0
    for key in sorted(strata):  # fixed order: (en, False), (en, True), (ja, False), (ja, True)
        ids = sorted(strata[key])
        rng.shuffle(ids)
        n_fit = len(ids) // 2
        if len(ids) % 2:
            n_fit += odd % 2  # the extra question goes to fit and report in turn
            odd += 1
        for i, qid in enumerate(ids):
            split[qid] = "fit" if i < n_fit else "report"
    return split


def main() -> None:
    rows = [json.loads(line) for line in PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    split = assign(rows)
    with PATH.open("w", encoding="utf-8") as f:
        for r in rows:
            r["split"] = split[r["id"]]
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts: dict[tuple[str, bool, str], int] = defaultdict(int)
    for r in rows:
        counts[(r["language"], r["answerable"], r["split"])] += 1
    for (lang, ans, sp), n in sorted(counts.items()):
        print(f"{lang} answerable={ans!s:5} {sp:6} {n}")


if __name__ == "__main__":
    main()
