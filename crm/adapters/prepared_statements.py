"""Server-side prepared statements (PostgreSQL) for the small statements every command repeats.

A visit's save sends two read-table writes and its response reads one row back; PostgreSQL
planned each of them again every time, and planning took as long as running them (0.36 ms of
0.74 ms a visit, measured with pg_stat_statements' `track_planning`). Prepared once per
connection (`PREPARE`, in a round trip of its own the first time), each is then only executed.

A statement is named after its SQL text, so one statement is prepared once per connection
whoever sends it. `PREPARE` is not undone by a rollback, so a name once prepared stays so for
the connection's life; a connection holds at most `MAX_PER_CONNECTION` of them (statements
built per call with shapes of their own are then sent as plain text). PostgreSQL analyses and
plans a prepared statement again after a change to a table it reads (a rebuild's swap of a
read table, a migration), by the table's name. A connection whose statements are not what this
process holds (`lost`: emptied by `DISCARD ALL` or a pooler in transaction mode, or a migration
that changed the type of a column read) is dropped by the caller, which reads or writes again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from psycopg2.errors import DuplicatePreparedStatement, FeatureNotSupported, InvalidSqlStatementName
from sqlalchemy import Integer

MAX_PER_CONNECTION = 200
_INFO_KEY = "crm_prepared_statements"
_PLACEHOLDER = re.compile(r"%%|%\(([^)]+)\)s")


@dataclass(frozen=True)
class Prepared:
    """A compiled statement as PostgreSQL prepares it: `sql` with `$n` parameters, `order` the
    names of the compiled statement's parameters in `$n` order."""

    name: str
    sql: str
    order: tuple[str, ...]
    types: tuple[str, ...]  # each parameter's type, as SQLAlchemy compiles it

    def arguments(self, values: dict) -> tuple:
        """The values of an execution, in the order of the statement's parameters."""
        return tuple(values[name] for name in self.order)

    @property
    def execute_sql(self) -> str:
        """`EXECUTE` of this statement with psycopg2's placeholders for `arguments`."""
        if not self.order:
            return f"EXECUTE {self.name}"
        return f"EXECUTE {self.name} ({', '.join(['%s'] * len(self.order))})"

    def execute_text(self, cursor, values: dict) -> str:
        """`EXECUTE` of this statement with `values` quoted by psycopg2 (SQL text to send)."""
        return cursor.mogrify(self.execute_sql, self.arguments(values)).decode()


_by_text: dict[str, Prepared | None] = {}


def prepared(compiled) -> Prepared | None:
    """The statement `compiled` (SQLAlchemy, for psycopg2's named parameters) as one to prepare,
    or None if it is not one (parameters expanded at execution, such as `IN` of a list, or a
    parameter without a type)."""
    if compiled.post_compile_params or compiled.literal_execute_params or compiled.positional:
        return None
    text = compiled.string
    if text in _by_text:
        return _by_text[text]
    if len(_by_text) > 10 * MAX_PER_CONNECTION:  # statements built per call: start over now and then
        _by_text.clear()
    order: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    sql = _PLACEHOLDER.sub(number, text)
    # Typed as SQLAlchemy types them: a parameter PostgreSQL cannot infer (a value selected
    # into an INSERT) would be taken as text, where the literal of a plain execution was not.
    # Integers as bigint: one value may go to an integer and a bigint column (SQLAlchemy
    # keeps one type per name), and a literal of a plain execution was as wide as its value.
    typed = {compiled.bind_names[bind]: _type_name(compiled.dialect, bind.type) for bind in compiled.binds.values()}
    types = tuple(typed.get(name, "unknown") for name in order)
    if "unknown" in types:  # SQLAlchemy's and PostgreSQL's guesses might differ
        _by_text[text] = None
        return None
    name = "crm_s_" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
    return _by_text.setdefault(text, Prepared(name, sql, tuple(order), types))


def lost(error: BaseException) -> bool:
    """Whether `error` (psycopg2's, or SQLAlchemy's around it) says the connection's prepared
    statements are not what this process holds for it."""
    error = getattr(error, "orig", None) or error
    if isinstance(error, FeatureNotSupported):
        return "cached plan must not change result type" in str(error)
    return isinstance(error, InvalidSqlStatementName | DuplicatePreparedStatement)


def driver_cursor(connection, sql: str, arguments):
    """A cursor of the driver's connection under this SQLAlchemy `connection` (psycopg2's),
    having run `sql` with `arguments`: a read without SQLAlchemy's execution context and result,
    whose set-up took more of a web process's CPU than PostgreSQL took to read a row by its id.
    Its errors are the driver's (`crm.adapters.availability` knows them); a connection they leave
    dead is invalidated here, as SQLAlchemy would: the pool gets a new one instead of failing to
    reset it. The engine's listeners of cursor executions (statement counts, plans in tests,
    instrumentation) are told of it."""
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    dispatch = connection.dispatch
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, cursor, sql, arguments, None, False)
    try:
        cursor.execute(sql, arguments)
    except Exception:
        if driver.closed:  # the server dropped it (restarted, terminated the backend)
            connection.invalidate()
        raise
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(connection, cursor, sql, arguments, None, False)
    return cursor


def named(name: str) -> Prepared | None:
    """The statement of this name made in this process, if any (what an `EXECUTE` runs)."""
    return next((p for p in _by_text.values() if p is not None and p.name == name), None)


def _type_name(dialect, type_) -> str:
    if type_._isnull:
        return "unknown"
    if isinstance(type_, Integer):
        return "BIGINT"
    try:
        return dialect.type_compiler_instance.process(type_)
    except Exception:  # a type without a name of its own in PostgreSQL
        return "unknown"


def ensure_prepared(connection, statement: Prepared) -> bool:
    """Prepare `statement` on the DBAPI connection under this SQLAlchemy `connection` (the
    pool's, whose `info` lasts as long as it does) unless it already is; False if it holds its
    maximum already. Runs in the connection's transaction: `PREPARE` outlives its rollback.
    Sent through SQLAlchemy, so that a connection found dead is dropped from the pool."""
    names: set = connection.connection.info.setdefault(_INFO_KEY, set())
    if statement.name in names:
        return True
    if len(names) >= MAX_PER_CONNECTION:
        return False
    types = f" ({', '.join(statement.types)})" if statement.types else ""  # ("()" is not SQL)
    connection.exec_driver_sql(f"PREPARE {statement.name}{types} AS {statement.sql}")
    names.add(statement.name)
    return True
