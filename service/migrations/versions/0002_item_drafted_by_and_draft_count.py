"""item drafted_by and draft_count

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:57:06.874185
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drafted_by", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("draft_count", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("draft_count")
        batch_op.drop_column("drafted_by")
