"""Bulk inserts for projectors: COPY on PostgreSQL, an executemany INSERT elsewhere.

A rebuild inserts hundreds of thousands of rows; PostgreSQL's COPY takes them several times
faster than INSERT ... VALUES, on both sides of the connection. Rows go in the session's
transaction (its connection's cursor), into the schema the session writes to
(`session.info["schema"]`: a rebuild's side schema), else the live one.
"""

from __future__ import annotations

import io
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.orm import Session

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def insert_rows(session: Session, table: Table, rows: list[dict]) -> None:
    """Insert `rows` (dicts with every column of `table`) into `table`."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(table.insert(), rows)
        return
    columns = [column.name for column in table.columns]
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_text(row[name]) for name in columns))
        buffer.write("\n")
    buffer.seek(0)
    schema = getattr(session, "info", {}).get("schema")
    target = f'"{schema}"."{table.name}"' if schema else f'"{table.name}"'
    cursor = session.connection().connection.cursor()
    try:
        cursor.copy_expert(f"COPY {target} ({', '.join(columns)}) FROM STDIN", buffer)
    finally:
        cursor.close()


def _text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
