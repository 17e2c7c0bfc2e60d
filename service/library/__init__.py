"""The answer library: what reviewers approved becomes knowledge the next draft can cite, kept
as one current answer per control.

Public surface:
- learning: `learn(session, item, user)`, `unlearn(session, item)`;
- clusters: `build_clusters(session, kb, workspace)` -> `Cluster` (state consistent /
  conflicting / one-off, with its `Disagreement`s), `cluster_of`;
- canonical answers: `promote`, `promote_item`, `write_answer`, `retire`, `set_review`, `due`,
  `canonical_answers`, `canonical_review`, `superseded_by`, `stale_canonical_ids`, `LibraryError`;
- quality against eval/labels: `library_pairwise(clusters)` -> `LibraryScores`;
- carry-over: `reuse_blocker(session, item, review_months)` -> why a `reused` draft needs a
  reviewer, or None when bulk accept may take it (service/library/reuse.py);
- quality for `kotae eval`: `clustering_quality(session, kb, workspace)` -> dict;
- cache of the clusters: `clear_cluster_cache`, `CLUSTER_CACHE_STATS`;
- JSON shapes: `cluster_json`, `canonical_json`, `member_json`.
"""

from service.library.canonical import (
    LibraryError,
    canonical_answers,
    canonical_review,
    due,
    promote,
    promote_item,
    retire,
    set_review,
    stale_canonical_ids,
    superseded_by,
    write_answer,
)
from service.library.clusters import (
    CLUSTER_CACHE_STATS,
    CONFLICTING,
    CONSISTENT,
    ONE_OFF,
    Cluster,
    Disagreement,
    build_clusters,
    clear_cluster_cache,
    cluster_of,
)
from service.library.evaluation import LibraryScores, clustering_quality, library_pairwise
from service.library.learning import learn, unlearn
from service.library.models import CanonicalAnswer
from service.library.present import canonical_json, cluster_json, member_json
from service.library.reuse import reuse_blocker

__all__ = [
    "CLUSTER_CACHE_STATS",
    "CONFLICTING",
    "CONSISTENT",
    "ONE_OFF",
    "CanonicalAnswer",
    "Cluster",
    "Disagreement",
    "LibraryError",
    "LibraryScores",
    "build_clusters",
    "canonical_answers",
    "canonical_review",
    "canonical_json",
    "clear_cluster_cache",
    "cluster_json",
    "cluster_of",
    "clustering_quality",
    "due",
    "learn",
    "library_pairwise",
    "member_json",
    "promote",
    "promote_item",
    "retire",
    "reuse_blocker",
    "set_review",
    "stale_canonical_ids",
    "superseded_by",
    "unlearn",
    "write_answer",
]
