"""CSV imports: the `imports` table and each import's rejected rows, the files waiting to be
imported (`import_uploads`), and the customers' external ids.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as customers:
        customers.add_column(sa.Column("external_id", sa.String(200), nullable=True))
    op.create_table(
        "imports",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("restaurant_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_done", sa.Integer, nullable=False),
        sa.Column("imported", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_imports_restaurant_created", "imports", ["restaurant_id", "created_at", "id"])
    op.create_index("ix_imports_created", "imports", ["created_at", "id"])
    op.create_table(
        "import_rejections",
        sa.Column("import_id", sa.Uuid, primary_key=True),
        sa.Column("line", sa.Integer, primary_key=True),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
    )
    op.create_table(
        "import_uploads",
        sa.Column("import_id", sa.Uuid, primary_key=True),
        sa.Column("part", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("import_uploads")
    op.drop_table("import_rejections")
    op.drop_index("ix_imports_created", "imports")
    op.drop_index("ix_imports_restaurant_created", "imports")
    op.drop_table("imports")
    with op.batch_alter_table("customers") as customers:
        customers.drop_column("external_id")
