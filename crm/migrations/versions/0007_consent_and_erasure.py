"""Consent to marketing email and erasure: customers' consent columns, their changes, campaigns'
unsubscribed exclusions; restaurants' frequency caps.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("restaurants") as restaurants:
        restaurants.add_column(sa.Column("frequency_cap_messages", sa.Integer, nullable=False, server_default="0"))
        restaurants.add_column(sa.Column("frequency_cap_days", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("customers") as customers:
        customers.add_column(sa.Column("email_consent", sa.String(20), nullable=False, server_default="subscribed"))
        customers.add_column(sa.Column("email_consent_changed_at", sa.DateTime(timezone=True), nullable=True))
        customers.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    # Everyone so far consented at registration, as a rebuild from the log says.
    op.execute("UPDATE customers SET email_consent_changed_at = created_at")
    op.create_table(
        "consent_changes",
        sa.Column("customer_id", sa.Uuid, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("email_consent", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.add_column(sa.Column("excluded_unsubscribed", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as campaigns:
        campaigns.drop_column("excluded_unsubscribed")
    op.drop_table("consent_changes")
    with op.batch_alter_table("customers") as customers:
        customers.drop_column("erased_at")
        customers.drop_column("email_consent_changed_at")
        customers.drop_column("email_consent")
    with op.batch_alter_table("restaurants") as restaurants:
        restaurants.drop_column("frequency_cap_days")
        restaurants.drop_column("frequency_cap_messages")
