"""The library as plain data (JSON for the CLI, the API and the pages): one shape everywhere."""

from __future__ import annotations

from typing import Any

from service.knowledge_base import Entry
from service.library.clusters import Cluster
from service.library.models import CanonicalAnswer


def member_json(entry: Entry, superseded: bool = False) -> dict[str, Any]:
    return {
        "id": entry.id,
        "source": entry.source.name,
        "locator": entry.locator,
        "product": entry.product,
        "language": entry.language,
        "date": (entry.sheet_date or entry.ingested_at.date()).isoformat(),
        "question": entry.question,
        "choice": entry.choice,
        "answer": entry.answer,
        "superseded": superseded,
    }


def cluster_json(cluster: Cluster) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "state": cluster.state,
        "members": [member_json(e, e.id in cluster.superseded) for e in cluster.members],
        "disagreements": [
            {"reason": d.reason, "first": member_json(d.first), "second": member_json(d.second)}
            for d in cluster.disagreements
        ],
    }


def canonical_json(canonical: CanonicalAnswer, entry: Entry | None, superseded: list[str]) -> dict[str, Any]:
    return {
        "id": canonical.id,
        "entry": member_json(entry) if entry is not None else None,
        "product": canonical.product,
        "owner": canonical.owner,
        "review_by": canonical.review_by.isoformat(),
        "note": canonical.note,
        "superseded": superseded,
    }
