"""Customers and visits: read tables, projection tracking, customer keys, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restaurants",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_restaurants_created_at", "restaurants", ["created_at"])

    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("search_text", sa.String(700), nullable=False),
        sa.Column("total_spend_cents", sa.BigInteger, nullable=False),
        sa.Column("visit_count", sa.Integer, nullable=False),
        sa.Column("last_visit_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_customers_restaurant_last_active", "customers", ["restaurant_id", "last_active_at"])
    op.create_index("ix_customers_restaurant_spend", "customers", ["restaurant_id", "total_spend_cents"])
    op.create_index("ix_customers_restaurant_created", "customers", ["restaurant_id", "created_at"])
    op.create_index("ix_customers_last_active", "customers", ["last_active_at"])
    op.create_index("ix_customers_spend", "customers", ["total_spend_cents"])
    op.create_index("ix_customers_created", "customers", ["created_at"])

    op.create_table(
        "visits",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("customer_id", sa.Uuid, nullable=False),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("spend_cents", sa.BigInteger, nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_visits_customer_visited", "visits", ["customer_id", "visited_at"])
    op.create_index("ix_visits_restaurant_visited", "visits", ["restaurant_id", "visited_at"])
    op.create_index("ix_visits_visited", "visits", ["visited_at"])

    op.create_table(
        "projection_tracking",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "customer_keys",
        sa.Column("customer_id", sa.Uuid, primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("restaurant_id", sa.Uuid, nullable=True),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for table in ("api_keys", "customer_keys", "projection_tracking", "visits", "customers", "restaurants"):
        op.drop_table(table)
