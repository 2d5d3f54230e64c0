"""Which stream owns which (a customer's visits, each recorded as its own stream).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_owners",
        sa.Column("stream_id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),
    )
    op.create_index("ix_stream_owners_owner", "stream_owners", ["owner_id"])


def downgrade() -> None:
    op.drop_table("stream_owners")
