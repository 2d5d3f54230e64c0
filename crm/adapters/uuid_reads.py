"""UUIDs read from PostgreSQL built from their value, not parsed again as text.

psycopg2 (as SQLAlchemy registers it) makes each `uuid` it reads with `uuid.UUID(text)`, whose
parsing accepts braces, `urn:uuid:` prefixes and missing hyphens, and checks the length: 2.2 us
a value on this machine, about 100 times for a page of 50 customers (their ids and
restaurants'). PostgreSQL always writes a uuid as 32 lowercase hex digits in 8-4-4-4-12 groups,
so its integer is all there is to read: 1.3 us. The objects are the same: `uuid.UUID`, equal,
same hash and text.
"""

from __future__ import annotations

from uuid import UUID, SafeUUID

import psycopg2.extensions
from sqlalchemy import event
from sqlalchemy.engine import Engine

UUID_OID, UUID_ARRAY_OID = 2950, 2951

_new = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown


def _uuid(text: str | None, cursor) -> UUID | None:
    if text is None:
        return None
    value = _new(UUID)  # (UUID's slots are set as its own __init__ sets them)
    _set(value, "int", int(text.replace("-", ""), 16))
    _set(value, "is_safe", _UNKNOWN)
    return value


UUID_TYPE = psycopg2.extensions.new_type((UUID_OID,), "UUID", _uuid)
UUID_ARRAY_TYPE = psycopg2.extensions.new_array_type((UUID_ARRAY_OID,), "UUID[]", UUID_TYPE)


def read_uuids_by_value(engine: Engine) -> None:
    """Every new psycopg2 connection of `engine` reads uuids with `_uuid` (registered after
    SQLAlchemy's own registration, which it replaces)."""
    if engine.dialect.driver != "psycopg2":
        return

    @event.listens_for(engine, "connect")
    def register(dbapi_connection, connection_record) -> None:
        psycopg2.extensions.register_type(UUID_TYPE, dbapi_connection)
        psycopg2.extensions.register_type(UUID_ARRAY_TYPE, dbapi_connection)
