"""holdout runs as crash-safe jobs: a lease, an attempt count, and the calibrate request

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("holdout_runs") as batch:
        batch.add_column(sa.Column("calibrate", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("holdout_runs") as batch:
        batch.drop_column("attempts")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
        batch.drop_column("calibrate")
