"""A customer's outreach, newest first: the dashboard's customer timeline and the personal-data
export read it by customer (a scan of every outreach row without this index).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outreach_customer_created", "outreach_events", ["customer_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outreach_customer_created", table_name="outreach_events")
