"""When each import file was stored (`import_uploads.stored_at`): a file whose import never
reached the log (its start stopped between storing the file and saving the import) is let go
once it is old enough. Files kept before this migration count from it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_uploads") as uploads:
        uploads.add_column(
            sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )


def downgrade() -> None:
    with op.batch_alter_table("import_uploads") as uploads:
        uploads.drop_column("stored_at")
