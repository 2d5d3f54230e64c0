"""Telling a database that is away (restarting, unreachable, dropping connections) from a bug."""

from __future__ import annotations

import psycopg2
from eventsourcing.persistence import InterfaceError as LibraryInterfaceError
from eventsourcing.persistence import OperationalError as LibraryOperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

_UNAVAILABLE = (
    SQLAlchemyOperationalError,
    SQLAlchemyInterfaceError,
    LibraryOperationalError,  # the event store's wrapping of the same
    LibraryInterfaceError,
    psycopg2.OperationalError,  # raised as such by the hot paths that use the driver directly
    psycopg2.InterfaceError,
)


def database_unavailable(error: BaseException) -> bool:
    """The database could not be reached or dropped the connection (restarting, overloaded, a
    lock it would not give in time): what failed may simply be tried again. The pool drops the
    dead connections on its own; the next attempt gets fresh ones."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, _UNAVAILABLE)
