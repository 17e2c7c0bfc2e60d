"""Browser pages for holdout evals: the workspace's runs (admins start one there), and one run's report.

The report is rendered on the server (tables, the reliability plot as inline SVG, a drill-down per
question in <details>), so it reads without JavaScript; `static/holdout.js` only polls a running
run's progress, starts runs, and filters the questions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.accounts import role_in, workspaces_of
from service.accounts.models import User
from service.api.deps import DB, MAX_ID
from service.evaluation import HoldoutRecord, holdable_sources, list_runs, shown_status
from service.knowledge_base import Workspace
from service.web.pages import _page, _user, templates

router = APIRouter(include_in_schema=False)

# The plot's drawing area inside its 340 x 250 viewBox.
LEFT, RIGHT, TOP, BOTTOM = 44, 330, 12, 210


def plot_geometry(reliability: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of the reliability plot: confidence band on x, share agreeing on y (SVG coordinates)."""
    width, height = RIGHT - LEFT, BOTTOM - TOP
    bars = []
    for band in reliability:
        low, high = (float(x) for x in band["band"].split("–"))
        share = band["agreement"]
        top = BOTTOM - height * (share or 0.0)
        bars.append(
            {
                "band": band["band"],
                "count": band["count"],
                "share": share,
                "x": round(LEFT + width * low + 3, 1),
                "width": round(width * (high - low) - 6, 1),
                "y": round(top, 1),
                "height": round(BOTTOM - top, 1),
                "centre": round(LEFT + width * (low + high) / 2, 1),
            }
        )
    return bars


@router.get("/holdout", response_class=HTMLResponse)
def holdout_runs_page(request: Request, db: DB, ws: str | None = None) -> Response:
    """The workspace's holdout runs; an admin picks sheets to hold out and starts a run."""
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    mine = {w.name: w for w, _ in workspaces_of(db, user)}
    workspace = mine.get(ws if ws in mine else next(iter(mine), ""))  # as the other pages choose it
    runs = list_runs(db, workspace) if workspace else []
    starters = {u.id: u.email for u in db.query(User).filter(User.id.in_({r.started_by for r in runs}))}
    return _page(
        request, db, "holdout_runs.html", user, workspace.name if workspace else None, runs=runs,
        sources=holdable_sources(db, workspace) if workspace else {}, statuses={r.id: shown_status(r) for r in runs},
        starters=starters,
    )  # fmt: skip


@router.get("/holdout/{run_id}", response_class=HTMLResponse)
def holdout_run_page(request: Request, db: DB, run_id: int) -> Response:
    """One run: progress while it runs; then the overall and per-sheet tables, the plot, every question."""
    user = _user(request, db)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    record = db.get(HoldoutRecord, run_id) if 0 < run_id <= MAX_ID else None
    found = db.get(Workspace, record.workspace_id) if record else None
    if found is None or role_in(db, user, found.id) is None:
        return templates.TemplateResponse(request, "missing.html", {"user": user}, status_code=404)
    result = record.result
    bars = plot_geometry(result["overall"]["reliability"]) if result else []
    return _page(
        request, db, "holdout.html", user, found.name, run=record, status=shown_status(record), result=result,
        bars=bars, judged=bool(result and result["overall"].get("judge_verdicts")),
        plot={"left": LEFT, "right": RIGHT, "top": TOP, "bottom": BOTTOM},
    )  # fmt: skip
