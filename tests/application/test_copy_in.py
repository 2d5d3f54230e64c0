"""COPY over rows made as PostgreSQL reads them: they land whole, and an error is reported as
what it is (a bug in making a row is not a database that is away)."""

from __future__ import annotations

import psycopg2
import pytest

from crm.adapters.availability import database_unavailable
from crm.adapters.copy_stream import copy_in


@pytest.fixture
def cursor(on_postgres, container):
    with container.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("CREATE TEMP TABLE copied (n int, name text)")
        yield cursor
        connection.rollback()


def test_many_rows_land_whole(cursor):
    copy_in(cursor, "COPY copied FROM STDIN", (f"{n}\tnamé {n}\n" for n in range(20_000)))
    cursor.execute("SELECT count(*), sum(n), max(name) FROM copied WHERE name LIKE 'namé %'")
    assert cursor.fetchone() == (20_000, sum(range(20_000)), "namé 9999")


def test_an_error_making_a_row_is_raised_as_itself_not_as_the_database_away(cursor):
    def lines():
        yield "1\tAnn\n"
        raise ValueError("no converter takes this value")

    with pytest.raises(ValueError, match="no converter takes this value") as raised:
        copy_in(cursor, "COPY copied FROM STDIN", lines())
    assert not database_unavailable(raised.value)


def test_the_databases_own_refusal_is_raised_as_the_database_said_it(cursor):
    with pytest.raises(psycopg2.DataError):
        copy_in(cursor, "COPY copied FROM STDIN", ["not a number\tAnn\n"])
