"""How good the library's clusters and conflicts are, against the hand-written labels in eval/labels.

- Clustering: pairwise precision and recall against the control groups of eval/labels/seeds.json
  (two entries belong together when they share a control; an entry may answer several).
- Conflicts: the disagreements of eval/labels/library_conflicts.json that `kotae library
  conflicts` finds (recall: a label is found when a reported pair has its two rows on two
  different sides of it; a label may have more than two sides, each disagreeing with the
  others), and precision over the distinct pairs of rows it reports (a reported pair is right
  when some label has its rows on two sides). `non_conflicts` lists pairs that look like
  conflicts but are not (read and rejected): reporting one counts against precision, as does
  any pair no label covers; the label file lists them so a reader sees why.
Refs are "PREFIX LOCATOR", PREFIX the first three characters of the source file name, as in
the other label files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import combinations
from typing import TYPE_CHECKING

from service.library.clusters import CONFLICTING, Cluster, build_clusters

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from service.knowledge_base import KnowledgeBase, Workspace

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
    unlabelled_disagreements: int  # distinct reported pairs that no label (conflict or non-conflict) covers
    conflict_pairs_reported: int = 0  # distinct pairs of rows (per-product copies of a row count once)
    conflict_pairs_right: int = 0  # of those, on two sides of a labelled conflict
    labelled_non_conflicts_reported: list[str] = field(default_factory=list)

    @property
    def pairwise_f1(self) -> float:
        p, r = self.pairwise_precision, self.pairwise_recall
        return round(2 * p * r / (p + r), 4) if p + r else 0.0

    @property
    def conflict_precision(self) -> float:
        reported, right = self.conflict_pairs_reported, self.conflict_pairs_right
        return round(right / reported, 4) if reported else 0.0

    @property
    def conflict_recall(self) -> float:
        return round(self.conflicts_found / self.conflicts_labelled, 4) if self.conflicts_labelled else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "pairwise_f1": self.pairwise_f1,
            "conflict_precision": self.conflict_precision,
            "conflict_recall": self.conflict_recall,
        }


def entry_ref(source_name: str, locator: str) -> str:
    return f"{source_name[:3]} {locator}"


def load_labels(folder: Traversable = LABELS) -> tuple[dict[str, set[int]], list[dict], list[dict]]:
    """(ref -> control group numbers, conflict labels, labelled non-conflicts)."""
    groups: dict[str, set[int]] = {}
    for number, group in enumerate(json.loads((folder / "seeds.json").read_text(encoding="utf-8"))["groups"]):
        for ref in group["members"]:
            groups.setdefault(ref, set()).add(number)
    labels = json.loads((folder / "library_conflicts.json").read_text(encoding="utf-8"))
    return groups, labels["conflicts"], labels.get("non_conflicts", [])


def _across(label: dict, pair: frozenset[str]) -> bool:
    """The two rows of `pair` are on two different sides of the label."""
    if len(pair) != 2:
        return False
    first, second = sorted(pair)
    sides_first = {i for i, side in enumerate(label["sides"]) if first in side}
    sides_second = {i for i, side in enumerate(label["sides"]) if second in side}
    return any(a != b for a in sides_first for b in sides_second)


def conflict_scores(reported: set[frozenset[str]], folder: Traversable = LABELS) -> dict[str, object]:
    """Reported pairs of refs against the conflict labels (see the module's docstring)."""
    _, conflicts, non_conflicts = load_labels(folder)
    right = {pair for pair in reported if any(_across(label, pair) for label in conflicts)}
    found = [label["control"] for label in conflicts if any(_across(label, pair) for pair in reported)]
    rejected = [" / ".join(sorted(n["pair"])) for n in non_conflicts if frozenset(n["pair"]) in reported]
    return {
        "conflicts_found": len(found),
        "conflicts_labelled": len(conflicts),
        "missed_conflicts": [label["control"] for label in conflicts if label["control"] not in found],
        "conflict_pairs_reported": len(reported),
        "conflict_pairs_right": len(right),
        "unlabelled_disagreements": len(reported - right) - len(rejected),
        "labelled_non_conflicts_reported": rejected,
    }


def reported_pairs(clusters: list[Cluster]) -> set[frozenset[str]]:
    """The distinct pairs of rows the clusters report as disagreeing (refs, not entry ids)."""
    return {
        frozenset({entry_ref(d.first.source.name, d.first.locator), entry_ref(d.second.source.name, d.second.locator)})
        for c in clusters
        for d in c.disagreements
    }


def library_pairwise(clusters: list[Cluster], folder: Traversable = LABELS) -> LibraryScores:
    """Pairwise precision/recall of the clusters, and precision/recall of the reported conflicts."""
    groups, _, _ = load_labels(folder)
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
    return LibraryScores(
        pairwise_precision=round(tp / (tp + fp), 4) if tp + fp else 0.0,
        pairwise_recall=round(tp / (tp + fn), 4) if tp + fn else 0.0,
        labelled_pairs=tp + fn,
        predicted_pairs=tp + fp,
        **conflict_scores(reported_pairs(clusters), folder),  # type: ignore[arg-type]
    )


def clustering_quality(
    session: Session, kb: KnowledgeBase, workspace: Workspace, folder: Traversable = LABELS
) -> dict[str, object]:
    """Clusters and conflicts of a workspace against eval/labels (for `kotae eval`).

    The labels name rows of the five seeds: on another workspace `labelled_entries` is 0 and
    the scores say nothing. Keys: pairwise_precision, pairwise_recall, pairwise_f1 (clusters
    against the control groups of seeds.json), conflict_precision, conflict_recall (reported
    disagreements against library_conflicts.json), and the counts behind them.
    """
    clusters = build_clusters(session, kb, workspace)
    groups, _, _ = load_labels(folder)
    labelled = sum(entry_ref(e.source.name, e.locator) in groups for c in clusters for e in c.members)
    return {
        "workspace": workspace.name,
        "entries": sum(len(c.members) for c in clusters),
        "labelled_entries": labelled,
        "clusters": len(clusters),
        "conflicting_clusters": sum(c.state == CONFLICTING for c in clusters),
        **library_pairwise(clusters, folder).as_dict(),
    }
