"""Saved segments: a restaurant's named audience rules; a campaign's own rule or saved segment.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rule", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_segments_restaurant_created", "segments", ["restaurant_id", "created_at", "id"])
    op.create_index("ix_segments_created", "segments", ["created_at", "id"])
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.add_column(sa.Column("segment_rule", sa.JSON, nullable=True))
        campaigns.add_column(sa.Column("segment_id", sa.Uuid, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.drop_column("segment_id")
        campaigns.drop_column("segment_rule")
    op.drop_table("segments")
