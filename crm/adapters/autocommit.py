"""Statements sent outside a transaction block (PostgreSQL through psycopg2).

In its default mode psycopg2 sends a `BEGIN` of its own before a connection's first statement,
and SQLAlchemy ends the transaction with a `ROLLBACK` or `COMMIT`: three round trips for a read
of one row. In the driver's autocommit mode a single statement is a transaction by itself, and a
string of several statements sent at once is one implicit transaction, committed after its last
statement and rolled back whole if one fails: one round trip.

SQLAlchemy's way there (`isolation_level="AUTOCOMMIT"`) sets psycopg2's isolation level, and once
a connection's level is set explicitly, each switch into and out of autocommit sends `SET`
statements (72 us for the pair, measured). Switching the driver's `autocommit` attribute costs
nothing while the level is the default, so that is what `autocommit` does, and only then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg2.extensions import STATUS_READY
from sqlalchemy.engine import Connection


@contextmanager
def autocommit(connection: Connection) -> Iterator[bool]:
    """`connection` (SQLAlchemy's, no transaction begun on it) in the driver's autocommit mode
    for the block when switching costs no round trip; yields whether it is. Otherwise (SQLite, a
    connection whose isolation level was set) it is left as it is, in a transaction as usual."""
    if connection.dialect.driver != "psycopg2" or connection.in_transaction():
        yield False
        return
    driver = connection.connection.driver_connection
    if driver.autocommit or driver.isolation_level is not None or driver.status != STATUS_READY:
        yield False
        return
    driver.autocommit = True
    try:
        yield True
    finally:
        if not driver.closed:  # (dropped meanwhile: the pool has a new one, in the default mode)
            driver.autocommit = False
