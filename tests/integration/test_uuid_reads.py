"""UUIDs read from PostgreSQL built from their value (`crm.adapters.uuid_reads`): the same
objects as `uuid.UUID(text)` makes, on every connection of the store's engine."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from crm.adapters.uuid_reads import UUID_ARRAY_TYPE, UUID_TYPE


def test_uuids_read_are_the_same_uuids(container):
    ids = [uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.UUID("00000000-0000-0000-0000-00000000000a")]
    with container.engine.connect() as connection:
        types = connection.connection.driver_connection.string_types
        assert types[2950] is UUID_TYPE and types[2951] is UUID_ARRAY_TYPE  # ours, not psycopg2's
        for id in ids:
            read = connection.execute(text("SELECT CAST(:id AS uuid)"), {"id": str(id)}).scalar_one()
            assert type(read) is uuid.UUID
            assert (read, hash(read), str(read), repr(read), read.is_safe) == (
                id,
                hash(id),
                str(id),
                repr(id),
                id.is_safe,
            )
            assert read.version == id.version and read.variant == id.variant
        assert connection.execute(text("SELECT CAST(NULL AS uuid)")).scalar_one() is None
        listed = connection.execute(text("SELECT ARRAY[CAST(:a AS uuid), NULL]"), {"a": str(ids[0])}).scalar_one()
        assert listed == [ids[0], None]
        # Check a UUID read is written back as one (psycopg2 adapts it by its class).
        assert connection.execute(
            text("SELECT CAST(:id AS uuid) = CAST(:text AS uuid)"), {"id": read, "text": str(read)}
        ).scalar_one()
