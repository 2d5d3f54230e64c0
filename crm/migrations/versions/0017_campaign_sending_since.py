"""When a running campaign last started, resumed or retried: its send rate counts the sends since
(a pause shorter than the rate's window was measured as slow sending). Null for campaigns
projected before: their rate reads the whole window, as before.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.add_column(sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.drop_column("sending_since")
