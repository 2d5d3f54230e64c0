"""The statements of the customers projection (CustomerSpendProjector): its visits' inserts,
the totals added to or recounted, erasure, and the lookups a batch of visits needs."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Uuid, bindparam, case, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from crm.read_model.tables import customers, visits


def _search_text(email: str, first_name: str, last_name: str) -> str:
    return f"{email}\n{first_name} {last_name}".lower()


def restaurants_of(session: Session, customer_ids: list[UUID]):
    """(customer id, restaurant id) of those of `customer_ids` that have a row."""
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: an IN list of a thousand ids costs SQLAlchemy and PostgreSQL
        # more to render and parse than the lookups themselves.
        return session.execute(_RESTAURANTS_OF_ANY, {"ids": customer_ids}).all()
    return [
        row
        for chunk in chunks(customer_ids, 1000)
        for row in session.execute(select(customers.c.id, customers.c.restaurant_id).where(customers.c.id.in_(chunk)))
    ]


_RESTAURANTS_OF_ANY = select(customers.c.id, customers.c.restaurant_id).where(
    customers.c.id == func.any(bindparam("ids", type_=postgresql.ARRAY(Uuid)))
)


def recount_totals(customer_ids: list[UUID] | None):
    """The UPDATE that sets the totals of `customer_ids` (None: of every customer) from their visits."""
    totals = (
        select(
            customers.c.id.label("customer_id"),
            func.coalesce(func.sum(visits.c.spend_cents), 0).label("spend"),
            func.count(visits.c.id).label("visits"),
            func.max(visits.c.visited_at).label("last_visit"),
            func.min(visits.c.visited_at).label("first_visit"),
        )
        .select_from(customers.outerjoin(visits, visits.c.customer_id == customers.c.id))
        .group_by(customers.c.id)
    )
    if customer_ids is not None:
        totals = totals.where(customers.c.id.in_(customer_ids))
    totals = totals.subquery()
    return (
        customers.update()
        .where(customers.c.id == totals.c.customer_id)
        .values(
            total_spend_cents=totals.c.spend,
            visit_count=totals.c.visits,
            last_visit_at=totals.c.last_visit,
            first_visit_at=totals.c.first_visit,
            last_active_at=func.coalesce(totals.c.last_visit, customers.c.created_at),
        )
    )


FEW_VISITS = 5  # visits in a batch, below which each is inserted by its own INSERT ... SELECT
INSERT_VISIT = visits.insert().from_select(
    ["id", "customer_id", "restaurant_id", "spend_cents", "visited_at"],
    select(
        bindparam("id", type_=Uuid),
        customers.c.id,
        customers.c.restaurant_id,
        bindparam("spend_cents", type_=BigInteger),
        bindparam("visited_at", type_=DateTime(timezone=True)),
    ).where(customers.c.id == bindparam("customer_id")),
)

_last_visit = bindparam("last_visit", type_=DateTime(timezone=True))
_latest_visit = case(
    (
        or_(customers.c.last_visit_at.is_(None), customers.c.last_visit_at < _last_visit),
        _last_visit,
    ),
    else_=customers.c.last_visit_at,
)
_first_visit = bindparam("first_visit", type_=DateTime(timezone=True))
_earliest_visit = case(
    (
        or_(customers.c.first_visit_at.is_(None), customers.c.first_visit_at > _first_visit),
        _first_visit,
    ),
    else_=customers.c.first_visit_at,
)
ADD_VISITS = (
    customers.update()
    .where(customers.c.id == bindparam("customer_id"))
    .values(
        total_spend_cents=customers.c.total_spend_cents + bindparam("spend"),
        visit_count=customers.c.visit_count + bindparam("visits"),
        last_visit_at=_latest_visit,
        first_visit_at=_earliest_visit,
        last_active_at=_latest_visit,  # a customer with a visit was last active at their last visit
    )
)

# The same, for many customers in one statement (PostgreSQL): an import's batch adds visits
# to a thousand customers, one UPDATE each would be a thousand round trips.
ADD_VISITS_FROM_ARRAYS = """
UPDATE {table} AS c SET
    total_spend_cents = c.total_spend_cents + v.spend,
    visit_count = c.visit_count + v.visits,
    last_visit_at = CASE WHEN c.last_visit_at IS NULL OR c.last_visit_at < v.last_visit
        THEN v.last_visit ELSE c.last_visit_at END,
    first_visit_at = CASE WHEN c.first_visit_at IS NULL OR c.first_visit_at > v.first_visit
        THEN v.first_visit ELSE c.first_visit_at END,
    last_active_at = CASE WHEN c.last_visit_at IS NULL OR c.last_visit_at < v.last_visit
        THEN v.last_visit ELSE c.last_visit_at END
FROM unnest({arrays}) AS v(id, spend, visits, last_visit, first_visit)
WHERE c.id = v.id
"""
ADD_VISITS_ROW = (
    ("customer_id", "uuid"),
    ("spend", "bigint"),
    ("visits", "int"),
    ("last_visit", "timestamptz"),
    ("first_visit", "timestamptz"),
)


def personal(email: str, first_name: str, last_name: str) -> dict:
    return {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "search_text": _search_text(email, first_name, last_name),
    }


ERASE = (
    customers.update()
    .where(customers.c.id == bindparam("customer_id"))
    .values(
        erased_at=bindparam("at", type_=DateTime(timezone=True)),
        external_id=None,
        deleted_at=func.coalesce(customers.c.deleted_at, bindparam("at", type_=DateTime(timezone=True))),
        **personal("", "", ""),
    )
)


def chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]
