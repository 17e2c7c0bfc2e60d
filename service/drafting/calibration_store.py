"""A workspace's own confidence calibration, fitted on its leave-one-sheet-out history.

Drafting uses it once it rests on enough labelled drafts (`calibration_min_samples`), else the
calibration shipped with Kotae. Every draft says which one its confidence came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from service.db import Base
from service.drafting.calibration import Calibration, shipped
from service.knowledge_base import Workspace
from service.knowledge_base.models import utcnow


class WorkspaceCalibration(Base):
    __tablename__ = "workspace_calibrations"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    samples: Mapped[int] = mapped_column(Integer)
    fitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fitted_by: Mapped[str] = mapped_column(String(200), default="")


def save_workspace_calibration(session: Session, workspace: Workspace, calibration: Calibration, by: str = "") -> None:
    row = session.get(WorkspaceCalibration, workspace.id)
    if row is None:
        row = WorkspaceCalibration(workspace_id=workspace.id)
        session.add(row)
    row.data = calibration.to_json()
    row.samples = calibration.samples
    row.fitted_at = utcnow()
    row.fitted_by = by
    session.flush()


def workspace_calibration(session: Session, workspace: str) -> Calibration | None:
    row = session.scalar(
        select(WorkspaceCalibration)
        .join(Workspace, Workspace.id == WorkspaceCalibration.workspace_id)
        .where(Workspace.name == workspace)
    )
    return Calibration.from_json(row.data) if row is not None else None


def calibration_for(session: Session, workspace: str, min_samples: int) -> tuple[Calibration | None, str]:
    """(calibration, where it came from): the workspace's own when it rests on enough drafts."""
    own = workspace_calibration(session, workspace)
    fallback = shipped()
    if own is not None and own.samples >= min_samples:
        if not own.answerable_from and fallback is not None:
            # A workspace's history holds no unanswerable questions: whether its knowledge base
            # answers one at all is judged as Kotae's held-out set measured it.
            own.answerable_from, own.evidence_views = dict(fallback.answerable_from), dict(fallback.evidence_views)
        return own, f"workspace '{workspace}' ({own.samples} drafts, {own.fitted_at})"
    reason = f"; the workspace's own rests on {own.samples} < {min_samples} drafts" if own is not None else ""
    if fallback is None:
        return None, f"uncalibrated signals{reason}"
    return fallback, f"Kotae's ({fallback.samples} labelled drafts, {fallback.fitted_at}){reason}"
