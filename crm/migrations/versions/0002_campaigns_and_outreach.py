"""Campaigns and outreach: read tables and the simulated delivery backend's ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("segment_type", sa.String(20), nullable=False),
        sa.Column("segment_value", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("message_template", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("audience", sa.Integer, nullable=True),
        sa.Column("batch_count", sa.Integer, nullable=False),
        sa.Column("queued", sa.Integer, nullable=False),
        sa.Column("sent", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("progressed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_campaigns_restaurant_created", "campaigns", ["restaurant_id", "created_at"])
    op.create_index("ix_campaigns_created", "campaigns", ["created_at"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])

    op.create_table(
        "campaign_batches",
        sa.Column("campaign_id", sa.Uuid, primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("finished", sa.Boolean, nullable=False),
    )

    op.create_table(
        "outreach_events",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("customer_id", sa.Uuid, nullable=False),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_outreach_campaign_status", "outreach_events", ["campaign_id", "status"])
    op.create_index("ix_outreach_campaign_created", "outreach_events", ["campaign_id", "created_at"])
    op.create_index("ix_outreach_restaurant_created", "outreach_events", ["restaurant_id", "created_at"])
    op.create_index("ix_outreach_created", "outreach_events", ["created_at"])

    op.create_table(
        "simulated_deliveries",
        sa.Column("idempotency_key", sa.Uuid, primary_key=True),
        sa.Column("campaign_id", sa.Uuid, nullable=False),
        sa.Column("customer_id", sa.Uuid, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("simulated_deliveries", "outreach_events", "campaign_batches", "campaigns"):
        op.drop_table(table)
