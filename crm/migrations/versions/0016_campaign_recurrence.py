"""Recurring campaigns: a series' recurrence and cooldown (while scheduled), an occurrence's
series (indexed with the creation time: a series' occurrences, and the cooldown's look-up of
whom earlier occurrences messaged), and how many an occurrence left out for the cooldown.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("recurrence", sa.JSON(), nullable=True))
    op.add_column("campaigns", sa.Column("recurrence_cooldown_days", sa.Integer(), nullable=True))
    op.add_column("campaigns", sa.Column("series_id", sa.Uuid(), nullable=True))
    op.add_column("campaigns", sa.Column("excluded_cooldown", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_campaigns_series_created", "campaigns", ["series_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_campaigns_series_created", table_name="campaigns")
    with op.batch_alter_table("campaigns") as campaigns:
        for column in ("excluded_cooldown", "series_id", "recurrence_cooldown_days", "recurrence"):
            campaigns.drop_column(column)
