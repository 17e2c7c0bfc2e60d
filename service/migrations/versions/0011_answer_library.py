"""the answer library: canonical answers and the entries they superseded

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "canonical_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=True),
        sa.Column("owner", sa.String(length=320), nullable=False, server_default=""),
        sa.Column("review_by", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_canonical_answers_workspace_id", "canonical_answers", ["workspace_id"])
    op.create_index("ix_canonical_answers_entry_id", "canonical_answers", ["entry_id"])
    op.create_table(
        "superseded_entries",
        sa.Column("workspace_id", sa.Integer(), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("entry_id", sa.String(length=32), primary_key=True),
        sa.Column(
            "canonical_id", sa.Integer(), sa.ForeignKey("canonical_answers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_superseded_entries_canonical_id", "superseded_entries", ["canonical_id"])


def downgrade() -> None:
    op.drop_index("ix_superseded_entries_canonical_id", table_name="superseded_entries")
    op.drop_table("superseded_entries")
    op.drop_index("ix_canonical_answers_entry_id", table_name="canonical_answers")
    op.drop_index("ix_canonical_answers_workspace_id", table_name="canonical_answers")
    op.drop_table("canonical_answers")
