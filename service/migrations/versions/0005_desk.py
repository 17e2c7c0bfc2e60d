"""the reviewer's desk: item sections, questionnaire due dates, comment mentions, undoable bulk accepts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_date", sa.Date(), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("section", sa.String(length=300), nullable=False, server_default=""))
    with op.batch_alter_table("item_comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mentions", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "bulk_batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "questionnaire_id", sa.Integer(), sa.ForeignKey("questionnaires.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_bulk_batches_questionnaire_id", "bulk_batches", ["questionnaire_id"])


def downgrade() -> None:
    op.drop_index("ix_bulk_batches_questionnaire_id", table_name="bulk_batches")
    op.drop_table("bulk_batches")
    with op.batch_alter_table("item_comments", schema=None) as batch_op:
        batch_op.drop_column("mentions")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("section")
    with op.batch_alter_table("questionnaires", schema=None) as batch_op:
        batch_op.drop_column("due_date")
