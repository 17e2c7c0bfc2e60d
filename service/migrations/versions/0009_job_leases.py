"""job leases: who is drafting a questionnaire or an item, until when, and how many attempts an item had

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("questionnaires", "items"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=False, server_default=""))
            batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    # The recovery sweep looks for unfinished questionnaires; this keeps it cheap on a long history.
    op.create_index("ix_questionnaires_status", "questionnaires", ["status"])


def downgrade() -> None:
    op.drop_index("ix_questionnaires_status", table_name="questionnaires")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("attempts")
    for table in ("items", "questionnaires"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("lease_expires_at")
            batch_op.drop_column("lease_owner")
