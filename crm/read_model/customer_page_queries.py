"""The dashboard's customer pages: a search across restaurants, and one customer with their
timeline (registration, visits, changes of consent and the messages campaigns sent them).

Deleted and erased customers are in neither: their rows keep ids and totals only.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import BigInteger, Integer, String, Uuid, cast, func, literal, null, select, union_all

from crm.read_model.dashboard_queries import DashboardQueries
from crm.read_model.queries import ACTIVE, _customer_columns, _customers_from, live
from crm.read_model.tables import campaigns, consent_changes, customers, outreach_events, restaurants, visits

_page_columns = (*_customer_columns, restaurants.c.timezone)


def _entry(kind: str, rank: int, at, ref, **values):
    """One branch of the timeline's union: every branch has the same columns, in the same order.

    `rank` orders entries of one moment (a registration before the consent change it caused);
    `ref` (a row's id as text) keeps the order stable among equals."""
    typed = {
        "spend_cents": BigInteger,
        "status": String,
        "detail": String,
        "campaign_id": Uuid,
        "campaign_name": String,
    }
    return (
        literal(kind, String).label("kind"),
        literal(rank, Integer).label("rank"),
        at.label("at"),
        cast(ref, String).label("ref"),
        *(values.get(name, cast(null(), type_)).label(name) for name, type_ in typed.items()),
    )


def _timeline(customer_id: UUID):
    registered = select(*_entry("registered", 0, customers.c.created_at, customers.c.id)).where(
        customers.c.id == customer_id
    )
    consent = select(
        *_entry(
            "consent",
            1,
            consent_changes.c.changed_at,
            consent_changes.c.version,
            status=consent_changes.c.email_consent,
            detail=consent_changes.c.source,
        )
    ).where(consent_changes.c.customer_id == customer_id)
    visited = select(*_entry("visit", 2, visits.c.visited_at, visits.c.id, spend_cents=visits.c.spend_cents)).where(
        visits.c.customer_id == customer_id
    )
    messages = (
        select(
            *_entry(
                "message",
                3,
                func.coalesce(outreach_events.c.sent_at, outreach_events.c.created_at),
                outreach_events.c.id,
                status=outreach_events.c.status,
                detail=outreach_events.c.error_message,
                campaign_id=outreach_events.c.campaign_id,
                campaign_name=campaigns.c.name,
            )
        )
        .select_from(outreach_events.join(campaigns, campaigns.c.id == outreach_events.c.campaign_id))
        .where(outreach_events.c.customer_id == customer_id)
    )
    return union_all(registered, consent, visited, messages).subquery("timeline")


class CustomerPageQueries(DashboardQueries):
    """The questions the dashboard's customer pages ask of the read model."""

    def customer_search(self, restaurant_id: UUID | None, text: str, page: int, page_size: int) -> dict:
        """Customers whose email or name contains `text` (any case), newest first, of one
        restaurant or (None) of all; and the restaurants to choose from."""
        query = select(*_page_columns).select_from(_customers_from).where(ACTIVE)
        if restaurant_id is not None:
            query = query.where(customers.c.restaurant_id == restaurant_id)
        if text:
            pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(customers.c.search_text.like(pattern, escape="\\"))
        result = self._clamped_page(query, (customers.c.created_at.desc(), customers.c.id.desc()), page, page_size)
        return {"customers": result, "restaurants": self.restaurant_choices(), "restaurant_id": restaurant_id}

    def customer_page(self, customer_id: UUID, page: int, page_size: int) -> dict | None:
        """A customer (with their restaurant's time zone) and a page of their timeline, newest
        first; None if the customer is unknown, deleted or erased."""
        query = (  # by primary key alone, the deleted dropped after (see `by_id`)
            select(*_page_columns, customers.c.deleted_at)
            .select_from(_customers_from)
            .where(customers.c.id == customer_id)
        )
        customer = live(self._one(query))
        if customer is None:
            return None
        timeline = _timeline(customer_id)
        order = (timeline.c.at.desc(), timeline.c.rank.desc(), timeline.c.ref.desc())
        return {"customer": customer, "timeline": self._clamped_page(select(timeline), order, page, page_size)}
