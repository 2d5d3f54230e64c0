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
_PAGE = 1_000
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


def update_from_arrays(
    session: Session, table: Table, sql: str, columns: tuple[tuple[str, str], ...], rows: list[dict]
) -> None:
    """Run `sql` (an UPDATE of `{table}`: `table` in the schema the session writes to, FROM
    `unnest({arrays})`) once per 1,000 `rows` (PostgreSQL; `columns`: each value's key and SQL
    type: uuid, a number or timestamptz), each column's values passed as one array literal
    (written here in one join: psycopg2 would adapt a VALUES list, or a list, a value at a
    time, three times the CPU)."""
    schema = getattr(session, "info", {}).get("schema")
    target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    # Joined by hash, the rows would have the planner read the whole table for each
    # thousand rows (a sequential scan grows with the table); by the primary key it reads
    # only the rows updated.
    statement = f"{_BY_KEY} {sql.format(table=target, arrays=arrays)}; {_ANY_JOIN}"
    cursor = session.connection().connection.cursor()
    try:
        for start in range(0, len(rows), _PAGE):
            page = rows[start : start + _PAGE]
            cursor.execute(statement, [_array(page, key, kind) for key, kind in columns])
    finally:
        cursor.close()


def _array(rows: list[dict], key: str, kind: str) -> str:
    """The rows' values of `key` as a PostgreSQL array literal: uuids, numbers and ISO 8601
    times hold no character that needs quoting there."""
    text = datetime.isoformat if kind == "timestamptz" else str
    return "{" + ",".join("NULL" if row[key] is None else text(row[key]) for row in rows) + "}"


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
