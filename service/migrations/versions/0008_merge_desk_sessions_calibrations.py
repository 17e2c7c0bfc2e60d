"""merge the desk, sessions and calibrations branches into one line

Revision ID: 0008
Revises: 0005, 0006, 0007
Create Date: 2026-12-02 18:10:00
"""

from __future__ import annotations

revision = "0008"
down_revision = ("0005", "0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the three branches touched different tables."""


def downgrade() -> None:
    """Nothing to undo."""
