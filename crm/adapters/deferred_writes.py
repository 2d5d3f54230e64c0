"""Writes held back to travel with the statement that follows them (PostgreSQL).

A command's inline projection before the insert lock is two or three small writes (a visit's
row, its customer's totals), and a registration adds its data key. Sent one by one, each costs a
round trip; held back and rendered to SQL text, they go out in the same string as the locked
append, so a whole save is one round trip (`event_store`, `locked_append`). A projector's batch
travels the same way with the move of its position (`tracking.advance_after`).

Rendering is SQLAlchemy's own: the statement compiled for the dialect with the parameters'
keys (as an execution would compile it), its bind processors applied, and the values quoted
by psycopg2 (`cursor.mogrify`), so the text is what an execution would have sent. Each
statement is prepared on the connection the first time (`prepared_statements`) and sent as its
`EXECUTE` with those values: PostgreSQL then neither parses nor plans it again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from crm.adapters.prepared_statements import ensure_prepared, prepared

_CACHE_SIZE = 64


class WritesMustWait(Exception):
    """Writes were to be sent ahead of the statement the kept ones are held for, on a
    connection where they would commit by themselves."""


class DeferredWrites:
    """Stands in for a `Session` while a projector writes, on a Core `Connection` in a
    transaction: INSERT, UPDATE and DELETE statements without RETURNING are kept as SQL text
    (`take` hands them over); anything that reads (a SELECT, RETURNING, a COPY through
    `connection()`) first sends what is kept, in order. With `hold`, on a connection outside a
    transaction block, where whatever is sent commits at once: only a SELECT runs, and only
    while nothing is kept; a write that cannot be kept (a list expanded at execution), the
    connection itself, or a read after a kept write raise `WritesMustWait` instead."""

    def __init__(self, connection: Connection, *, hold: bool = False):
        self._connection = connection
        self._hold = hold  # kept writes may only go with the statement that follows them
        self.info: dict = {}  # a projector's session info (no side schema: the live tables)
        self._dialect = connection.dialect
        # The transaction's own DBAPI cursor: for quoting, and for whoever sends `take()` with a
        # statement of their own.
        self.cursor = connection.connection.cursor()
        self._pending: list[str] = []
        self._prepares = connection.dialect.name == "postgresql"

    def get_bind(self) -> Connection:
        return self._connection

    def connection(self) -> Connection:
        if self._hold:  # what is done through it (a COPY) would commit alone
            raise WritesMustWait()
        self.send()
        return self._connection

    def execute(self, statement, params: Any = None, **kwargs: Any):
        rows = params if isinstance(params, list) else [params or {}]
        compiled = None if kwargs or not rows else _compiled(statement, self._dialect, rows[0])
        if compiled is None:
            if self._hold and not getattr(statement, "is_select", False):
                raise WritesMustWait()  # a write that cannot be kept would commit alone
            self.send()
            return self._connection.execute(statement, params, **kwargs)
        processors = compiled._bind_processors
        statement = prepared(compiled) if self._prepares else None
        if statement is not None and not ensure_prepared(self._connection, statement):
            statement = None
        for row in rows:
            values = compiled.construct_params(row)
            for name, process in processors.items():
                if name in values:
                    values[name] = process(values[name])
            if statement is not None:
                self._pending.append(statement.execute_text(self.cursor, values))
            else:
                self._pending.append(self.cursor.mogrify(compiled.string, values).decode())
        return None

    def take(self) -> str:
        """The kept statements as one string (each ended by `;`), ready to precede another
        statement given to `cursor.execute` with parameters (its `%` doubled); then forgets them."""
        text = "".join(f"{sql}; " for sql in self._pending).replace("%", "%%")
        self._pending.clear()
        return text

    def send(self) -> None:
        """Run the kept statements now, in the connection's transaction; `WritesMustWait` if
        they may only go with the statement that follows them (a connection outside a
        transaction block would commit them alone)."""
        if self._pending and self._hold:
            raise WritesMustWait()
        if self._pending:
            sql = "; ".join(self._pending)
            self._pending.clear()
            self.cursor.execute(sql)


_compiled_cache: dict[tuple, tuple[object, object]] = {}


def _compiled(statement, dialect, row: dict):
    """The statement compiled as an execution with `row`'s keys would, or None if it is not a
    plain write (it reads, or returns rows). Module-level statements are compiled once."""
    if not getattr(statement, "is_dml", False):
        return None
    key = (id(statement), tuple(sorted(row)))
    held = _compiled_cache.get(key)
    if held is not None and held[0] is statement:  # held, so its id is not reused meanwhile
        return held[1]
    compiled = statement.compile(dialect=dialect, column_keys=list(row))
    if compiled.returning or compiled.positional or compiled.post_compile_params or compiled.literal_execute_params:
        return None  # rows to read, or parameters expanded at execution (`IN (...)` of a list)
    if len(_compiled_cache) >= _CACHE_SIZE:  # statements built per call: start over now and then
        _compiled_cache.clear()
    _compiled_cache[key] = (statement, compiled)
    return compiled
