"""Reads of one customer's events: the full history, and the customer as of a past moment."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import EventStore

from crm.write_model.customers import Customer
from crm.write_model.errors import CustomerNotFound
from crm.write_model.restaurants import Restaurant

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}


def _customer_events(events: EventStore, customer_id: UUID, scope: UUID | None) -> list:
    events = list(events.get(customer_id))
    if not events or not isinstance(events[0], Customer.Registered):
        raise CustomerNotFound(customer_id)
    if scope is not None and events[0].restaurant_id != scope:
        raise CustomerNotFound(customer_id)
    return events


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def events_of(events: EventStore, customer_id: UUID, scope: UUID | None) -> list[dict]:
    return [
        {
            "type": type(event).__name__,
            "version": event.originator_version,
            "occurred_at": _plain(event.timestamp),
            "actor": event.actor,
            "data": {k: _plain(v) for k, v in vars(event).items() if k not in _ENVELOPE},
        }
        for event in _customer_events(events, customer_id, scope)
    ]


def customer_as_of(store: EventStore, customer_id: UUID, at: datetime, scope: UUID | None) -> dict:
    events = [e for e in _customer_events(store, customer_id, scope) if e.timestamp <= at]
    customer = None
    for event in events:
        customer = event.mutate(customer)
    if customer is None or customer.deleted:
        raise CustomerNotFound(customer_id)
    restaurant = None
    for event in store.get(customer.restaurant_id):
        if event.timestamp > at:
            break
        restaurant = event.mutate(restaurant)
    return {
        "id": customer.id,
        "restaurant": customer.restaurant_id,
        "restaurant_name": restaurant.name if isinstance(restaurant, Restaurant) else None,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "total_spend_cents": customer.total_spend_cents,
        "visit_count": len(customer.counted_visits),
        "last_visit_at": customer.last_visit_at,
        "created_at": customer.created_on,
        "as_of": at,
    }
