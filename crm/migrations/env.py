"""Alembic environment: runs on the connection that `crm migrate` hands over."""

from alembic import context

# Every module that defines tables, imported so that each joins the one MetaData.
import crm.adapters.api_keys  # noqa: F401
import crm.adapters.customer_keys  # noqa: F401
import crm.adapters.deliveries  # noqa: F401
import crm.adapters.operators  # noqa: F401
import crm.adapters.stream_owners  # noqa: F401
import crm.read_model.tables  # noqa: F401
from crm.adapters.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
