"""Indexes in the order the lists are read, so a page is a range of an index, not a sort.

Each list orders by a column and then the id (a stable order among equal values): the indexes
end with the id, and the customer segments' indexes hold only customers not deleted (every list
hides those).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NOT_DELETED = sa.text("deleted_at IS NULL")

# name -> (table, columns, partial)
NEW = {
    "ix_customers_restaurant_last_active": ("customers", ["restaurant_id", "last_active_at", "id"], True),
    "ix_customers_restaurant_spend": ("customers", ["restaurant_id", sa.text("total_spend_cents DESC"), "id"], True),
    "ix_customers_restaurant_created": ("customers", ["restaurant_id", "created_at", "id"], False),
    "ix_customers_last_active": ("customers", ["last_active_at", "id"], True),
    "ix_customers_spend": ("customers", [sa.text("total_spend_cents DESC"), "id"], True),
    "ix_customers_created": ("customers", ["created_at", "id"], False),
    "ix_visits_customer_visited": ("visits", ["customer_id", "visited_at", "id"], False),
    "ix_visits_restaurant_visited": ("visits", ["restaurant_id", "visited_at", "id"], False),
    "ix_visits_visited": ("visits", ["visited_at", "id"], False),
    "ix_outreach_campaign_status": ("outreach_events", ["campaign_id", "status", "created_at", "id"], False),
    "ix_outreach_campaign_created": ("outreach_events", ["campaign_id", "created_at", "id"], False),
    "ix_outreach_restaurant_created": ("outreach_events", ["restaurant_id", "created_at", "id"], False),
    "ix_outreach_created": ("outreach_events", ["created_at", "id"], False),
}
OLD = {
    "ix_customers_restaurant_last_active": ("customers", ["restaurant_id", "last_active_at"]),
    "ix_customers_restaurant_spend": ("customers", ["restaurant_id", "total_spend_cents"]),
    "ix_customers_restaurant_created": ("customers", ["restaurant_id", "created_at"]),
    "ix_customers_last_active": ("customers", ["last_active_at"]),
    "ix_customers_spend": ("customers", ["total_spend_cents"]),
    "ix_customers_created": ("customers", ["created_at"]),
    "ix_visits_customer_visited": ("visits", ["customer_id", "visited_at"]),
    "ix_visits_restaurant_visited": ("visits", ["restaurant_id", "visited_at"]),
    "ix_visits_visited": ("visits", ["visited_at"]),
    "ix_outreach_campaign_status": ("outreach_events", ["campaign_id", "status"]),
    "ix_outreach_campaign_created": ("outreach_events", ["campaign_id", "created_at"]),
    "ix_outreach_restaurant_created": ("outreach_events", ["restaurant_id", "created_at"]),
    "ix_outreach_created": ("outreach_events", ["created_at"]),
}


def upgrade() -> None:
    for name, (table, columns, partial) in NEW.items():
        op.drop_index(name, table_name=table)
        where = NOT_DELETED if partial else None
        op.create_index(name, table, columns, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, (table, columns) in OLD.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
