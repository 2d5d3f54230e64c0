"""Read-only queries over the read model. They return plain dicts, never ORM objects.

`scope` is the caller's restaurant id (None for an admin): every query is filtered by it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Select, Subquery, bindparam, case, select

from crm.read_model.pages import Listed, Page, QueriesBase, by_id
from crm.read_model.tables import customers, restaurants, visits

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
# The email of a customer joined by id alone, null once the customer is deleted or erased: with
# ACTIVE in the join, a table without statistics was read through the partial index of every
# live customer for each row joined (see `by_id`).
LIVE_EMAIL = case((ACTIVE, customers.c.email)).label("customer_email")


def live(row: dict | None) -> dict | None:
    """A row read with its customer's `deleted_at` instead of ACTIVE in the SQL (see `by_id`):
    None if the customer is deleted, else the row without that column."""
    if row is None or row.pop("deleted_at") is not None:
        return None
    return row


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


_CUSTOMER_BY_ID = by_id(
    select(*_customer_columns, customers.c.deleted_at).select_from(_customers_from),
    customers.c.id,
    customers.c.restaurant_id,
)
_VISIT_BY_ID = by_id(
    select(*_visit_columns, customers.c.deleted_at).select_from(_visits_from), visits.c.id, visits.c.restaurant_id
)


def search_pattern(search: str) -> str:
    """The LIKE pattern of a search: `search` anywhere, lower-cased, its wildcards escaped."""
    return "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def searched(pattern):
    """Customers whose lower-cased email or "first last" matches `pattern` (see `search_pattern`)."""
    return customers.c.search_text.like(pattern, escape="\\")


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
        return live(self._one_by_id(_CUSTOMER_BY_ID, customer_id, scope))

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
        return live(self._one_by_id(_VISIT_BY_ID, visit_id, scope))

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
