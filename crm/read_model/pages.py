"""Paging through the read model: a page of a list, its count, and the cursors of lists read by
position. `QueriesBase` is the plumbing every query class shares (scoping, one row, one page);
rows come back as plain dicts, never ORM objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import Integer, Select, Subquery, and_, bindparam, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from crm.adapters.autocommit import autocommit
from crm.adapters.prepared_statements import Prepared, driver_cursor, ensure_prepared, lost, prepared
from crm.read_model import cursors


@dataclass(frozen=True)
class Page:
    count: int
    items: list[dict[str, Any]]
    page: int
    page_size: int
    after: str | None = None  # where the next page starts, for lists read by position (a cursor)
    more: bool | None = None  # whether rows follow this page, where the list looked (else: by count)

    @property
    def has_next(self) -> bool:
        return self.more if self.more is not None else self.page * self.page_size < self.count


@dataclass(frozen=True)
class Listed:
    """What a list pages through: `query()` builds its rows' query with bound parameters (built
    once per `shape`, a key naming that structure), and `params` gives them their values."""

    shape: tuple
    query: Callable[[], Select]
    params: dict[str, Any]


@dataclass(frozen=True)
class PageStatements:
    count: Select
    page: Select
    keys: tuple[str, ...]  # the page's columns holding each order value, for the cursor
    added: tuple[str, ...]  # those added to the page's row only for that, dropped from the rows


def _utc(value: Any) -> Any:
    # SQLite hands back naive datetimes for DateTime(timezone=True): they were stored in UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


OWNER = "_owner"  # the restaurant of a row read by `by_id`, checked and dropped by `_one_by_id`


def by_id(query: Select, id_column, scope_column) -> Select:
    """`query` for the row with one id, found by that id alone: `_one_by_id` checks its
    restaurant (`scope_column`) after the read.

    With the restaurant (or `deleted_at IS NULL`) in the SQL, a table without statistics yet
    (before autovacuum's first analyze) was read through an index of every row of the
    restaurant (or every live customer) instead of the primary key: PostgreSQL then takes a
    second equality as more selective than the key's, and `IS NULL` to hold for 0.5% of the rows.
    """
    return query.add_columns(scope_column.label(OWNER)).where(id_column == bindparam("id"))


@dataclass(frozen=True)
class _Compiled:
    """A query compiled once for a dialect (the queries given are built once, at import or per
    list shape). `raw`: its rows as psycopg2 gives them are its rows (no column needs
    SQLAlchemy's processing) and its parameters need no expansion at execution, so its SQL can
    be sent as it is; `prepared`: the same as a statement to prepare, if it can be one."""

    query: Select
    compiled: Any
    raw: bool
    prepared: Prepared | None

    def values(self, params: dict) -> dict:
        """The driver's parameters of an execution with `params`."""
        values = self.compiled.construct_params(params)
        for name, process in self.compiled._bind_processors.items():
            values[name] = process(values[name])
        return values

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys of a row's columns, as SQLAlchemy's result of the query names them."""
        return tuple(column[0] for column in self.compiled._result_columns)


_compiled: dict[int, _Compiled] = {}


def _compiled_once(query: Select, dialect) -> _Compiled:
    """`query` compiled for `dialect`, once per query."""
    held = _compiled.get(id(query))
    if held is None or held.query is not query:
        compiled = query.compile(dialect=dialect)
        processed = any(column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns)
        expanded = compiled.post_compile_params or compiled.literal_execute_params or compiled.positional
        statement = None if processed else prepared(compiled)
        held = _compiled[id(query)] = _Compiled(query, compiled, not (processed or expanded), statement)
    return held


# The count and the page read a range of the index in the list's order. A table that just grew
# (a campaign's 50,000 records, an import) has statistics saying a campaign has a few dozen
# rows: PostgreSQL would fetch them all and sort them for every page, or count through another
# list's index. Sent with the statement, as one implicit transaction: `SET LOCAL` ends with it.
_SORT_OFF = "SET LOCAL enable_sort = off"


def _row(row) -> dict[str, Any]:
    return {key: _utc(value) for key, value in row._mapping.items()}


class QueriesBase:
    """Shared plumbing: scoping, one row, one page (a count and a page: two queries)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._prepared: dict[tuple, PageStatements] = {}

    @staticmethod
    def _scoped(query: Select, column, scope: UUID | None) -> Select:
        return query if scope is None else query.where(column == scope)

    def _one(self, query: Select, params: dict | None = None) -> dict | None:
        with self.engine.connect() as conn, autocommit(conn):  # one statement: no BEGIN, no ROLLBACK
            row = conn.execute(query, params).first()
        return None if row is None else _row(row)

    def _one_by_id(self, query: Select, id: UUID, scope: UUID | None) -> dict | None:
        """One row by a query `by_id` built (once, not per call: the rows read back after every
        command; on PostgreSQL prepared on each connection), None if it is not of the
        restaurant `scope`. One statement, sent outside a transaction block (`autocommit`)."""
        with self.engine.connect() as conn, autocommit(conn):
            try:
                row = self._prepared_first(conn, query, {"id": id})
            except Exception as error:  # (the driver's own, or SQLAlchemy's around it)
                if not lost(error):
                    raise
                conn.invalidate()  # a new connection, whose statements are known
                conn.rollback()
                found = conn.execute(query, {"id": id}).first()
                row = None if found is None else _row(found)
        if row is None:
            return None
        owner = row.pop(OWNER)
        return None if scope is not None and owner != scope else row

    @staticmethod
    def _prepared_first(conn, query: Select, params: dict) -> dict | None:
        """The first row of `query` (a statement built once) as a dict, prepared on the
        connection if it is PostgreSQL's (`crm.adapters.prepared_statements`) and read from the
        driver's cursor: a prepared statement's rows need none of SQLAlchemy's processing."""
        if conn.dialect.name == "postgresql":
            held = _compiled_once(query, conn.dialect)
            statement = held.prepared
            if statement is not None and ensure_prepared(conn, statement):
                arguments = statement.arguments(held.values(params))
                with driver_cursor(conn, statement.execute_sql, arguments) as cursor:
                    row = cursor.fetchone()
                return None if row is None else dict(zip(held.keys, row, strict=True))
        row = conn.execute(query, params).first()
        return None if row is None else _row(row)

    def _page(self, query: Select, order_by: tuple, page: int, page_size: int) -> Page:
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            rows = conn.execute(query.order_by(*order_by).limit(page_size).offset((page - 1) * page_size)).all()
        return Page(count=count, items=[_row(r) for r in rows], page=page, page_size=page_size)

    def _page_then_join(
        self,
        listed: Listed,
        order_by: tuple[UnaryExpression, ...],
        page: int,
        page_size: int,
        rows_of: Callable[[Subquery], Select],
        count: int | None = None,
        after: str | None = None,
    ) -> Page:
        """A page of one table's rows (`listed`, holding the columns `order_by` names), then
        `rows_of(page)` joins what the answer adds to them. With an index in the page's order,
        PostgreSQL reads a range of it: no sort, and no join for the rows the offset skips.

        `after` (a cursor: the `after` of the page before) starts the page after that page's
        last row instead of skipping `(page - 1) x page_size` rows, so the thousandth page costs
        what the first does; it also carries the count of the walk's first page, which later
        pages repeat instead of counting again. A `count` already known (kept by a projection)
        spares counting. Whether a next page exists is seen by reading one row more."""
        params = {**listed.params, "_limit": page_size + 1}
        if after is not None:
            last, walk_count = cursors.decode(after, order_by)
            params.update({f"_after{n}": value for n, value in enumerate(last)})
            count = count if count is not None else walk_count
        else:
            params["_offset"] = (page - 1) * page_size
        with self.engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            statements = self._page_statements(listed, order_by, rows_of, after is not None, postgres)
            if postgres:
                count, names, fetched = self._read_sorted(conn, statements, count, listed.params, params)
                rows = [dict(zip(names, row, strict=True)) for row in fetched]
            else:
                if count is None:
                    count = conn.execute(statements.count, listed.params).scalar_one()
                result = conn.execute(statements.page, params)
                names = tuple(result.keys())
                # SQLite hands back naive datetimes: `_utc`'s repair (PostgreSQL's carry their zone).
                rows = [{name: _utc(value) for name, value in zip(names, row, strict=True)} for row in result]
        more = len(rows) > page_size
        rows = rows[:page_size]
        after = cursors.encode([rows[-1][key] for key in statements.keys], order_by, count) if more else None
        for row in rows if statements.added else ():
            for key in statements.added:
                del row[key]
        return Page(count, rows, page, page_size, after, more)

    @staticmethod
    def _read_sorted(
        conn, statements: PageStatements, count: int | None, count_params: dict, params: dict
    ) -> tuple[int, tuple[str, ...], list]:
        """The count (unless known), and the page's column keys and rows, read on PostgreSQL
        without sorting (`_SORT_OFF`). Each statement is sent with the setting in one string
        outside a transaction block: a round trip each, where a transaction took a `BEGIN`, the
        `SET` and a `ROLLBACK` of their own besides. A statement whose SQL cannot be sent as it
        is, or a connection that cannot leave its transaction mode, reads in a transaction."""
        page = _compiled_once(statements.page, conn.dialect)
        counted = None if count is not None else _compiled_once(statements.count, conn.dialect)
        if page.raw and (counted is None or counted.raw):
            with autocommit(conn) as implicit:
                if implicit:
                    try:
                        if counted is not None:
                            with _send_sorted(conn, counted, count_params) as cursor:
                                (count,) = cursor.fetchone()
                        with _send_sorted(conn, page, params) as cursor:
                            return count, page.keys, cursor.fetchall()
                    except Exception as error:  # (the driver's own, or SQLAlchemy's around it)
                        if not lost(error):
                            raise
                        conn.invalidate()  # a new connection, whose statements are known
                        conn.rollback()
        conn.exec_driver_sql(_SORT_OFF)
        if count is None:
            count = conn.execute(statements.count, count_params).scalar_one()
        result = conn.execute(statements.page, params)
        return count, tuple(result.keys()), result.fetchall()

    def _page_statements(
        self,
        listed: Listed,
        order_by: tuple[UnaryExpression, ...],
        rows_of: Callable[[Subquery], Select],
        by_cursor: bool,
        postgres: bool,
    ) -> PageStatements:
        """The count and page statements of a list's shape, built once per process: building a
        page's statement (its subquery's columns, the joins, the cache key SQLAlchemy derives
        from the whole tree) cost more than running it. Values come as bound parameters."""
        key = (listed.shape, by_cursor, postgres)
        statements = self._prepared.get(key)
        if statements is not None:
            return statements
        query = listed.query()
        counted = query.order_by(*order_by) if postgres else query.order_by(None)
        count = select(func.count()).select_from(counted.subquery())
        if by_cursor:
            after = [bindparam(f"_after{n}", type_=term.element.type) for n, term in enumerate(order_by)]
            query = query.where(_beyond(order_by, after))
        else:
            query = query.offset(bindparam("_offset", type_=Integer))
        one_page = query.order_by(*order_by).limit(bindparam("_limit", type_=Integer)).subquery("page")
        page = rows_of(one_page)
        # An order value the answer's rows hold as they are (the id) is read from there; the
        # others are added as `_key<n>` (each value read twice would be parsed twice).
        shown = {id(column): column.name for column in page.selected_columns}
        keys, added = [], []
        for n, term in enumerate(order_by):
            source = _same_order(one_page, term).element
            if id(source) in shown:
                keys.append(shown[id(source)])
            else:
                keys.append(f"_key{n}")
                added.append(source.label(f"_key{n}"))
        page = page.add_columns(*added).order_by(*(_same_order(one_page, t) for t in order_by))
        statements = PageStatements(count, page, tuple(keys), tuple(label.name for label in added))
        return self._prepared.setdefault(key, statements)


def _send_sorted(conn, held: _Compiled, params: dict):
    """A driver's cursor (`driver_cursor`) that ran `held` with `params` after `_SORT_OFF`, in
    one string: as a statement prepared on the connection if it can be one
    (`crm.adapters.prepared_statements`). PostgreSQL plans a page's statement in about as long
    as it runs it (0.2-0.4 ms); prepared, it may settle on a generic plan after five runs, and
    with sorting off every plan reads the list's index in its order, so the generic plan is the
    custom plans' (`tests/integration/test_plans_without_statistics.py` checks both)."""
    values = held.values(params)
    statement = held.prepared
    if statement is not None and ensure_prepared(conn, statement):
        return driver_cursor(conn, f"{_SORT_OFF}; {statement.execute_sql}", statement.arguments(values))
    return driver_cursor(conn, f"{_SORT_OFF}; {held.compiled.string}", values)


def _beyond(order_by: tuple[UnaryExpression, ...], values: list):
    """Rows after the row with these order values: the first key bounds the index range read;
    the rest break ties in each key's own direction."""
    terms = [(term.element, term.modifier is operators.desc_op) for term in order_by]

    def past(column, descending, value):
        return column < value if descending else column > value

    (first, first_descending), first_value = terms[0], values[0]
    bound = first <= first_value if first_descending else first >= first_value
    alternatives = []
    for n, ((column, descending), value) in enumerate(zip(terms, values, strict=True)):
        equal_before = [terms[i][0] == values[i] for i in range(n)]
        alternatives.append(and_(*equal_before, past(column, descending, value)))
    return and_(bound, or_(*alternatives))


def _same_order(subquery: Subquery, term: UnaryExpression):
    column = subquery.c[term.element.name]
    return column.desc() if term.modifier is operators.desc_op else column.asc()
