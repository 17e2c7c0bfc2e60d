"""How good the library's clusters and conflicts are, against the hand-written labels in eval/labels.

- Clustering: pairwise precision and recall against the control groups of eval/labels/seeds.json
  (two entries belong together when they share a control; an entry may answer several).
- Conflicts: the disagreements of eval/labels/library_conflicts.json that `kotae library
  conflicts` finds (one side of a label against the other, in one conflicting cluster), and how
  many of the disagreements it reports touch no labelled conflict.
Refs are "PREFIX LOCATOR", PREFIX the first three characters of the source file name, as in
the other label files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import combinations

from service.library.clusters import Cluster

# eval/labels, shipped with the package (service/evaluation/labels links to it).
LABELS = resources.files("service.evaluation") / "labels"


@dataclass
class LibraryScores:
    pairwise_precision: float
    pairwise_recall: float
    labelled_pairs: int
    predicted_pairs: int
    conflicts_found: int
    conflicts_labelled: int
    missed_conflicts: list[str]
    unlabelled_disagreements: int  # reported pairs that match no labelled conflict

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def entry_ref(source_name: str, locator: str) -> str:
    return f"{source_name[:3]} {locator}"


def load_labels(folder: Traversable = LABELS) -> tuple[dict[str, set[int]], list[dict]]:
    """(ref -> control group numbers, conflict labels)."""
    groups: dict[str, set[int]] = {}
    for number, group in enumerate(json.loads((folder / "seeds.json").read_text(encoding="utf-8"))["groups"]):
        for ref in group["members"]:
            groups.setdefault(ref, set()).add(number)
    conflicts = json.loads((folder / "library_conflicts.json").read_text(encoding="utf-8"))["conflicts"]
    return groups, conflicts


def library_pairwise(clusters: list[Cluster], folder: Traversable = LABELS) -> LibraryScores:
    """Pairwise precision/recall of the clusters and recall of the labelled conflicts."""
    groups, conflicts = load_labels(folder)
    refs: list[tuple[str, int]] = []  # (ref, cluster) of every labelled entry
    for number, cluster in enumerate(clusters):
        for entry in cluster.members:
            ref = entry_ref(entry.source.name, entry.locator)
            if ref in groups:
                refs.append((ref, number))
    tp = fp = fn = 0
    for (ref_a, cl_a), (ref_b, cl_b) in combinations(refs, 2):
        same, together = bool(groups[ref_a] & groups[ref_b]), cl_a == cl_b
        tp += same and together
        fp += together and not same
        fn += same and not together
    reported = [
        {entry_ref(d.first.source.name, d.first.locator), entry_ref(d.second.source.name, d.second.locator)}
        for c in clusters
        for d in c.disagreements
    ]
    found, missed = 0, []
    matched: set[int] = set()
    for label in conflicts:
        one, other = set(label["sides"][0]), set(label["sides"][1])
        hits = [i for i, pair in enumerate(reported) if pair & one and pair & other]
        matched.update(hits)
        if hits:
            found += 1
        else:
            missed.append(label["control"])
    return LibraryScores(
        pairwise_precision=round(tp / (tp + fp), 4) if tp + fp else 0.0,
        pairwise_recall=round(tp / (tp + fn), 4) if tp + fn else 0.0,
        labelled_pairs=tp + fn,
        predicted_pairs=tp + fp,
        conflicts_found=found,
        conflicts_labelled=len(conflicts),
        missed_conflicts=missed,
        unlabelled_disagreements=len(reported) - len(matched),
    )
