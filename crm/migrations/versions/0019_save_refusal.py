"""`crm_refuse_save`: how the locked statement of a save refuses it (PostgreSQL only).

A save is sent as one string outside a transaction block, which PostgreSQL runs as one implicit
transaction and commits after its last statement (`crm.adapters.locked_append`). A save that
must not commit (a stream not live, a projection missing earlier events) is refused by an error
raised from that statement, which rolls the whole string back; the error's hint names the
reason, its detail the streams.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION crm_refuse_save(reason text, detail text) RETURNS boolean
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'crm_save_refused' USING HINT = reason, DETAIL = detail;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS crm_refuse_save(text, text)")
