"""Browser pages of the answer library: conflicting clusters side by side, canonical answers and
what is due for review.

Rendered on the server so they read without JavaScript; `static/library.js` only sends a
reviewer's decisions (make canonical, mark reviewed, withdraw) to the API and reloads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.accounts import workspaces_of
from service.api.deps import DB
from service.knowledge_base import Entry
from service.library import CONFLICTING, build_clusters, canonical_answers, canonical_json, cluster_json, superseded_by
from service.web.pages import _page, _user

router = APIRouter(include_in_schema=False)


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, db: DB, ws: str | None = None) -> Response:
    """Conflicts to resolve, and the canonical answers with their owner and review-by date."""
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    mine = {w.name: w for w, _ in workspaces_of(db, user)}
    workspace = mine.get(ws if ws in mine else next(iter(mine), ""))  # as the other pages choose it
    conflicts, canonical, counts = [], [], {}
    if workspace is not None:
        clusters = build_clusters(db, request.app.state.kb, workspace)
        conflicts = [cluster_json(c) for c in clusters if c.state == CONFLICTING]
        for cluster in conflicts:
            # Making one side canonical supersedes only what it disagrees with, not the whole
            # cluster (which may hold a neighbouring control).
            overrules: dict[str, set[str]] = {}
            for d in cluster["disagreements"]:
                first, second = d["first"]["id"], d["second"]["id"]
                overrules.setdefault(first, set()).add(second)
                overrules.setdefault(second, set()).add(first)
            cluster["overrules"] = {k: sorted(v) for k, v in overrules.items()}
        for c in clusters:
            counts[c.state] = counts.get(c.state, 0) + 1
        canonical = [
            canonical_json(c, db.get(Entry, c.entry_id), superseded_by(db, c)) for c in canonical_answers(db, workspace)
        ]
    today = datetime.now(UTC).date().isoformat()
    return _page(
        request, db, "library.html", user, workspace.name if workspace else None,
        conflicts=conflicts, canonical=canonical, counts=counts, today=today,
    )  # fmt: skip
