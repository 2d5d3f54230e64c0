"""Read-only queries over the read model. They return plain dicts, never ORM objects.

`scope` is the caller's restaurant id (None for an admin): every query is filtered by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import Select, Subquery, and_, bindparam, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from crm.read_model import cursors
from crm.read_model.tables import customers, restaurants, visits


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


def _utc(value: Any) -> Any:
    # SQLite hands back naive datetimes for DateTime(timezone=True): they were stored in UTC.
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _row(row) -> dict[str, Any]:
    return {key: _utc(value) for key, value in row._mapping.items()}


_customer_columns = (
    customers.c.id,
    customers.c.restaurant_id.label("restaurant"),
    restaurants.c.name.label("restaurant_name"),
    customers.c.email,
    customers.c.first_name,
    customers.c.last_name,
    customers.c.total_spend_cents,
    customers.c.visit_count,
    customers.c.last_visit_at,
    customers.c.created_at,
    customers.c.email_consent,
    customers.c.email_consent_changed_at,
    customers.c.external_id,
)
_customers_from = customers.outerjoin(restaurants, restaurants.c.id == customers.c.restaurant_id)
ACTIVE = customers.c.deleted_at.is_(None)  # deleted customers are kept as rows, hidden everywhere

_visit_columns = (
    visits.c.id,
    visits.c.customer_id.label("customer"),
    customers.c.email.label("customer_email"),
    visits.c.visited_at,
    visits.c.spend_cents,
)
_visits_from = visits.join(customers, customers.c.id == visits.c.customer_id)


def _customers_page_rows(page: Subquery) -> Select:
    """The API's customer rows for one page of customers (the restaurant joined to 50 rows, not
    to every row the page's offset skips)."""
    return select(
        page.c.id,
        page.c.restaurant_id.label("restaurant"),
        restaurants.c.name.label("restaurant_name"),
        *(page.c[column.name] for column in _customer_columns[3:]),
    ).select_from(page.outerjoin(restaurants, restaurants.c.id == page.c.restaurant_id))


def _by_id(query: Select, id_column, scope_column) -> tuple[Select, Select]:
    unscoped = query.where(id_column == bindparam("id"))
    return unscoped, unscoped.where(scope_column == bindparam("scope"))


_CUSTOMER_BY_ID = _by_id(
    select(*_customer_columns).select_from(_customers_from).where(ACTIVE), customers.c.id, customers.c.restaurant_id
)
_VISIT_BY_ID = _by_id(
    select(*_visit_columns).select_from(_visits_from).where(ACTIVE), visits.c.id, visits.c.restaurant_id
)


class QueriesBase:
    """Shared plumbing: scoping, one row, one page (a count and a page: two queries)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._prepared: dict[tuple, PageStatements] = {}

    @staticmethod
    def _scoped(query: Select, column, scope: UUID | None) -> Select:
        return query if scope is None else query.where(column == scope)

    def _one(self, query: Select, params: dict | None = None) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(query, params).first()
        return None if row is None else _row(row)

    def _one_by_id(self, queries: tuple[Select, Select], id: UUID, scope: UUID | None) -> dict | None:
        """One row by a prepared (unscoped, scoped) pair of queries: the ones read back after
        every command are built once, not per call."""
        if scope is None:
            return self._one(queries[0], {"id": id})
        return self._one(queries[1], {"id": id, "scope": scope})

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
                # The count and the page read a range of the index in the list's order. A table
                # that just grew (a campaign's 50,000 records, an import) has statistics saying
                # a campaign has a few dozen rows: PostgreSQL would fetch them all and sort them
                # for every page, or count through another list's index.
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
            if count is None:
                count = conn.execute(statements.count, listed.params).scalar_one()
            result = conn.execute(statements.page, params)
            names = tuple(result.keys())
            # PostgreSQL's datetimes carry their zone: only SQLite's need `_utc`'s repair.
            if postgres:
                rows = [dict(zip(names, row, strict=True)) for row in result]
            else:
                rows = [{name: _utc(value) for name, value in zip(names, row, strict=True)} for row in result]
        more = len(rows) > page_size
        rows = rows[:page_size]
        keys = [[row.pop(f"_key{n}") for n in range(len(order_by))] for row in rows]
        after = cursors.encode(keys[-1], order_by, count) if more else None
        return Page(count, rows, page, page_size, after, more)

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
            query = query.offset(bindparam("_offset"))
        one_page = query.order_by(*order_by).limit(bindparam("_limit")).subquery("page")
        keys = [_same_order(one_page, term).element.label(f"_key{n}") for n, term in enumerate(order_by)]
        page = rows_of(one_page).add_columns(*keys).order_by(*(_same_order(one_page, t) for t in order_by))
        return self._prepared.setdefault(key, PageStatements(count, page))


def search_pattern(search: str) -> str:
    """The LIKE pattern of a search: `search` anywhere, lower-cased, its wildcards escaped."""
    return "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def searched(pattern):
    """Customers whose lower-cased email or "first last" matches `pattern` (see `search_pattern`)."""
    return customers.c.search_text.like(pattern, escape="\\")


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


class Queries(QueriesBase):
    """The questions the API asks of the read model about restaurants, customers and visits."""

    # -- restaurants

    def restaurant(self, restaurant_id: UUID, scope: UUID | None) -> dict | None:
        query = select(restaurants).where(restaurants.c.id == restaurant_id)
        return self._one(self._scoped(query, restaurants.c.id, scope))

    def restaurants(self, scope: UUID | None, page: int, page_size: int) -> Page:
        query = self._scoped(select(restaurants), restaurants.c.id, scope)
        return self._page(query, (restaurants.c.created_at.desc(), restaurants.c.id.desc()), page, page_size)

    # -- customers

    def customer(self, customer_id: UUID, scope: UUID | None) -> dict | None:
        return self._one_by_id(_CUSTOMER_BY_ID, customer_id, scope)

    def customers(
        self,
        scope: UUID | None,
        restaurant_id: UUID | None,
        search: str | None,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page:
        def query() -> Select:
            query = self._customers_query(scope, restaurant_id)
            return query.where(searched(bindparam("pattern"))) if search else query

        pattern = search_pattern(search) if search else None
        listed = self._customers_listed(("customers", bool(search)), query, scope, restaurant_id, pattern=pattern)
        order = (customers.c.created_at.desc(), customers.c.id.desc())
        return self._page_then_join(listed, order, page, page_size, _customers_page_rows, after=after)

    def inactive_customers(
        self,
        scope: UUID | None,
        restaurant_id: UUID | None,
        days: int,
        now: datetime,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page:
        """Customers whose last activity (last visit, else registration) is over `days` x 24 h ago."""

        def query() -> Select:
            return self._customers_query(scope, restaurant_id).where(customers.c.last_active_at < bindparam("cutoff"))

        cutoff = now - timedelta(days=days)
        listed = self._customers_listed(("inactive",), query, scope, restaurant_id, cutoff=cutoff)
        order = (customers.c.last_active_at.asc(), customers.c.id.asc())
        return self._page_then_join(listed, order, page, page_size, _customers_page_rows, after=after)

    def high_spenders(
        self,
        scope: UUID | None,
        restaurant_id: UUID | None,
        min_spend_cents: int,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page:
        """Customers whose total spend is at least `min_spend_cents`, highest first."""

        def query() -> Select:
            return self._customers_query(scope, restaurant_id).where(
                customers.c.total_spend_cents >= bindparam("min_spend_cents")
            )

        listed = self._customers_listed(
            ("high_spenders",), query, scope, restaurant_id, min_spend_cents=min_spend_cents
        )
        order = (customers.c.total_spend_cents.desc(), customers.c.id.asc())
        return self._page_then_join(listed, order, page, page_size, _customers_page_rows, after=after)

    # -- visits

    def visit(self, visit_id: UUID, scope: UUID | None) -> dict | None:
        return self._one_by_id(_VISIT_BY_ID, visit_id, scope)

    def visits(self, scope: UUID | None, customer_id: UUID | None, page: int, page_size: int) -> Page:
        query = self._scoped(
            select(*_visit_columns).select_from(_visits_from).where(ACTIVE), visits.c.restaurant_id, scope
        )
        if customer_id is not None:
            query = query.where(visits.c.customer_id == customer_id)
        return self._page(query, (visits.c.visited_at.desc(), visits.c.id.desc()), page, page_size)

    def customer_of_visit(self, visit_id: UUID) -> UUID | None:
        """Which customer holds a visit (a fact that never changes once recorded)."""
        with self.engine.connect() as conn:
            return conn.execute(select(visits.c.customer_id).where(visits.c.id == visit_id)).scalar()

    # -- helpers

    @staticmethod
    def _customers_query(scope: UUID | None, restaurant_id: UUID | None) -> Select:
        """Customers not deleted (their own columns, and the one the segments order by), with
        the bound parameters `scope` and `restaurant_id` where they are given."""
        own = (customers.c.restaurant_id, *_customer_columns[3:], customers.c.last_active_at)
        query = select(customers.c.id, *own).where(ACTIVE)
        if scope is not None:
            query = query.where(customers.c.restaurant_id == bindparam("scope"))
        if restaurant_id is not None:
            query = query.where(customers.c.restaurant_id == bindparam("restaurant_id"))
        return query

    @staticmethod
    def _customers_listed(shape: tuple, query: Callable[[], Select], scope, restaurant_id, **params) -> Listed:
        """A customers list: its shape also says whether it is scoped and filtered by restaurant."""
        params.update(scope=scope, restaurant_id=restaurant_id)
        return Listed((*shape, scope is None, restaurant_id is None), query, params)

