"""How the holdout eval decides that a drafted answer agrees with the real one: thresholds chosen here.

    python eval/choose_agreement.py

Positives: answers to the same control in two different seed sheets (the labelled groups of
eval/labels/seeds.json); negatives: answers to different controls. For chrF and for e5 cosine
it prints the threshold with the best balanced accuracy, and that of the rule "chrF ≥ a or
cosine ≥ b" over a small grid. `service/evaluation/holdout.py` uses the chosen pair.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
from sacrebleu.metrics import CHRF

from service.embeddings import get_embeddings
from service.ingest import parse_file
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"


def main() -> None:
    labels = json.loads((ROOT / "eval" / "labels" / "seeds.json").read_text(encoding="utf-8"))
    answers: dict[str, str] = {}
    for path in sorted(SEEDS.iterdir()):
        for item in parse_file(path).items:
            answers.setdefault(f"{path.name[:3]} {item.locator}", item.answer or item.choice_raw)
    groups = [[m for m in g["members"] if answers.get(m)] for g in labels["groups"]]
    positives = [(a, b) for g in groups for a, b in itertools.combinations(g, 2) if a[:3] != b[:3]]
    rng = random.Random(7)
    members = [(m, i) for i, g in enumerate(groups) for m in g]
    negatives = []
    while len(negatives) < len(positives):
        (a, ga), (b, gb) = rng.sample(members, 2)
        if ga != gb and a[:3] != b[:3]:
            negatives.append((a, b))
    pairs = [(a, b, True) for a, b in positives] + [(a, b, False) for a, b in negatives]
    texts = sorted({answers[x][:1500] for a, b, _ in pairs for x in (a, b)})
    vectors = np.asarray(get_embeddings(Settings()).embed_documents(texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {t: i for i, t in enumerate(texts)}
    chrf = CHRF()
    scored = []
    for a, b, same in pairs:
        ta, tb = answers[a][:1500], answers[b][:1500]
        scored.append((chrf.sentence_score(ta, [tb]).score, float(vectors[index[ta]] @ vectors[index[tb]]), same))

    def balanced(rule) -> float:  # noqa: ANN001
        tp = sum(1 for c, s, same in scored if same and rule(c, s))
        tn = sum(1 for c, s, same in scored if not same and not rule(c, s))
        return (tp / len(positives) + tn / len(negatives)) / 2

    print(f"{len(positives)} same-control pairs, {len(negatives)} different-control pairs")
    best_chrf = max(range(5, 80, 5), key=lambda t: balanced(lambda c, s, t=t: c >= t))
    best_cos = max((x / 100 for x in range(80, 99)), key=lambda t: balanced(lambda c, s, t=t: s >= t))
    print(f"chrF ≥ {best_chrf}: balanced accuracy {balanced(lambda c, s: c >= best_chrf):.3f}")
    print(f"cosine ≥ {best_cos:.2f}: balanced accuracy {balanced(lambda c, s: s >= best_cos):.3f}")
    grid = [(a, b / 100) for a in range(20, 80, 5) for b in range(85, 99)]
    best = max(grid, key=lambda ab: balanced(lambda c, s, ab=ab: c >= ab[0] or s >= ab[1]))
    print(
        f"chrF ≥ {best[0]} or cosine ≥ {best[1]:.2f}: balanced accuracy "
        f"{balanced(lambda c, s: c >= best[0] or s >= best[1]):.3f}"
    )


if __name__ == "__main__":
    main()
