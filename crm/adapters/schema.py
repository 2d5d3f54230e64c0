"""The one SQLAlchemy MetaData every table of ours is defined on, so Alembic sees them all.

Read tables (`crm.read_model.tables`) and the adapters' own tables (customer keys, API keys,
operators, simulated deliveries) join it; the event store's tables belong to the eventsourcing
library, which creates them.
"""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
