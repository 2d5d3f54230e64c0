"""The campaign whose unsubscribe link a customer used, on their change of consent: a campaign's
results count the unsubscribes it caused. Earlier changes keep no campaign (null).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consent_changes", sa.Column("campaign_id", sa.Uuid, nullable=True))
    op.create_index("ix_consent_changes_campaign", "consent_changes", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_consent_changes_campaign", table_name="consent_changes")
    op.drop_column("consent_changes", "campaign_id")
