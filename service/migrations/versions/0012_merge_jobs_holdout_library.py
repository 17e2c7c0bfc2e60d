"""merge the job leases, holdout runs and answer library branches into one line

Revision ID: 0012
Revises: 0009, 0010, 0011
Create Date: 2026-12-02 19:05:00
"""

from __future__ import annotations

revision = "0012"
down_revision = ("0009", "0010", "0011")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the three branches touched different tables."""


def downgrade() -> None:
    """Nothing to undo."""
