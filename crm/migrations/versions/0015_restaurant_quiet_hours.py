"""A restaurant's quiet hours: local "HH:MM" from and to which nothing is sent (null: none).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("restaurants", sa.Column("quiet_hours_start", sa.String(5), nullable=True))
    op.add_column("restaurants", sa.Column("quiet_hours_end", sa.String(5), nullable=True))


def downgrade() -> None:
    op.drop_column("restaurants", "quiet_hours_end")
    op.drop_column("restaurants", "quiet_hours_start")
