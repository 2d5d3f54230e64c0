"""Events a projection could not apply: the dead-letter table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_dead_letters",
        sa.Column("projection", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("originator_id", sa.Uuid, nullable=False),
        sa.Column("originator_version", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("projection_dead_letters")
