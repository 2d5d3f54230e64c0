"""Each customer's first visit (null without one), for segment rules on `first_visit_at`; filled
in from the visits already projected.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("customers", sa.Column("first_visit_at", sa.DateTime(timezone=True), nullable=True))
    customers = sa.table("customers", sa.column("id"), sa.column("first_visit_at"))
    visits = sa.table("visits", sa.column("customer_id"), sa.column("visited_at"))
    first = sa.select(sa.func.min(visits.c.visited_at)).where(visits.c.customer_id == customers.c.id)
    op.execute(customers.update().values(first_visit_at=first.scalar_subquery()))


def downgrade() -> None:
    with op.batch_alter_table("customers") as customers:
        customers.drop_column("first_visit_at")
