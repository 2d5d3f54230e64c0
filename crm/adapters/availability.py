"""Telling a database that is away (restarting, unreachable, dropping connections) from a bug."""

from __future__ import annotations

import sqlite3

import psycopg2
from eventsourcing.persistence import InterfaceError as LibraryInterfaceError
from eventsourcing.persistence import OperationalError as LibraryOperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from crm.adapters.prepared_statements import lost

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
    if lost(_driver_error(error)):  # its prepared statements gone: the connection was dropped
        return True
    if not isinstance(error, _UNAVAILABLE):
        return False
    driver_error = _driver_error(error)
    if isinstance(driver_error, sqlite3.OperationalError):  # SQLite files "no such table" here too
        return any(sign in str(driver_error).lower() for sign in _SQLITE_AWAY)
    return True


_SQLITE_AWAY = ("locked", "busy", "unable to open", "disk i/o")


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own exception under SQLAlchemy's and the event store's wrappings."""
    seen = 0
    while seen < 5:
        inner = getattr(error, "orig", None) or error.__cause__
        if inner is None:
            return error
        error, seen = inner, seen + 1
    return error


def ping(engine) -> None:
    """Ask the database for the simplest answer; raises if it cannot give one."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
