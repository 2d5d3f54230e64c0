"""Bulk inserts for projectors: COPY on PostgreSQL, an executemany INSERT elsewhere.

A rebuild inserts hundreds of thousands of rows; PostgreSQL's COPY takes them several times
faster than INSERT ... VALUES, on both sides of the connection. Rows go in the session's
transaction (its connection's cursor), into the schema the session writes to
(`session.info["schema"]`: a rebuild's side schema), else the live one.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from operator import attrgetter, itemgetter

from sqlalchemy import Insert, Table, Uuid
from sqlalchemy.orm import Session

from crm.adapters.copy_stream import copy_in

_FEW = 10
_BY_KEY = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off;"
_ANY_JOIN = "SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with every column of `table`) into `table`."""
    if not rows:
        return
    if len(rows) <= _FEW or session.get_bind().dialect.name != "postgresql":
        session.execute(_insert(table), rows)  # a command's own few rows: COPY costs more
        return
    names = [column.name for column in table.columns]
    converters = [_converter(column) for column in table.columns]
    values_of = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    lines = (
        "\t".join(
            [
                "\\N" if value is None else convert(value)
                for convert, value in zip(converters, values_of(row), strict=True)
            ]
        )
        + "\n"
        for row in rows
    )
    schema = getattr(session, "info", {}).get("schema")
    target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
    cursor = session.connection().connection.cursor()
    try:
        copy_in(cursor, f"COPY {target} ({', '.join(names)}) FROM STDIN", lines)
    finally:
        cursor.close()


def update_from_values(
    session: Session, table: Table, sql: str, columns: tuple[tuple[str, str], ...], rows: list[dict]
) -> None:
    """Run `sql` (an UPDATE of `{table}`: `table` in the schema the session writes to, FROM
    `(VALUES %s)`) once per 1,000 `rows` (PostgreSQL; `columns`: each value's key and SQL type)."""
    from psycopg2.extras import execute_values

    schema = getattr(session, "info", {}).get("schema")
    target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
    template = "(" + ", ".join(f"%s::{kind}" for _, kind in columns) + ")"
    values = [tuple(str(row[key]) if kind == "uuid" else row[key] for key, kind in columns) for row in rows]
    # Joined by hash, the VALUES would have the planner read the whole table for each
    # thousand rows (a sequential scan grows with the table); by the primary key it reads
    # only the rows updated.
    statement = f"{_BY_KEY} {sql.format(table=target)}; {_ANY_JOIN}"
    cursor = session.connection().connection.cursor()
    try:
        execute_values(cursor, statement, values, template=template, page_size=1000)
    finally:
        cursor.close()


@cache
def _insert(table: Table) -> Insert:
    """One INSERT statement per table, so its compiled form is found again (`DeferredWrites`)."""
    return table.insert()


def _converter(column):
    """How a (non-null) value of this column is written in COPY's text format."""
    kind = column.type.python_type if not isinstance(column.type, Uuid) else None
    if kind is str:
        return lambda value: value.translate(_ESCAPES)
    if kind is bool:
        return lambda value: "t" if value else "f"
    if kind is datetime:
        return datetime.isoformat
    if kind is None:
        return _hex  # PostgreSQL reads a UUID's 32 hex digits without the dashes, and str() costs twice as much
    return str  # integers


_hex = attrgetter("hex")
