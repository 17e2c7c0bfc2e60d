"""questionnaire progress derived from items

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:24:21.057245
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.drop_column("done")
        batch_op.drop_column("failed")


def downgrade() -> None:
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("done", sa.Integer(), nullable=False, server_default="0"))
