"""Alembic environment: runs on the connection that `crm migrate` hands over."""

from alembic import context

from crm.read_model.tables import read_metadata
from crm.write_model.personal_data import write_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=[read_metadata, write_metadata],
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
