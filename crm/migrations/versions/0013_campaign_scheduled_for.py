"""When a scheduled campaign starts (null unless it is scheduled), indexed with the status for
the campaign follower's look-up of due campaigns.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_campaigns_status_scheduled", "campaigns", ["status", "scheduled_for"])


def downgrade() -> None:
    op.drop_index("ix_campaigns_status_scheduled", table_name="campaigns")
    op.drop_column("campaigns", "scheduled_for")
