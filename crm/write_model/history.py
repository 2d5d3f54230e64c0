"""Reads of one customer's events: the full history, and the customer as of a past moment.

A customer's story is their own stream plus the streams of their visits, in the order the log
recorded them; visits recorded on the customer's own stream (before visits had streams) read
the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from crm.write_model.customers import Customer
from crm.write_model.errors import CustomerNotFound
from crm.write_model.restaurants import Restaurant
from crm.write_model.visits import Visit

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
_VISIT_LINKS = {"customer_id"}  # implied by the story they are in
_KEPT_FOR_REPLAY = {"redacted"}  # an erasure's copy of the events before it: they show themselves


def check_story(events: list, customer_id: UUID, scope: UUID | None) -> list:
    """`events` (the customer's story), or CustomerNotFound if it is no customer's in `scope`."""
    if not events or not isinstance(events[0], Customer.Registered) or events[0].originator_id != customer_id:
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


def _data(event) -> dict:
    data = {k: _plain(v) for k, v in vars(event).items() if k not in _ENVELOPE and k not in _KEPT_FOR_REPLAY}
    if isinstance(event, Customer.Registered) and data.get("external_id") is None:
        del data["external_id"]  # only an import's registrations carry one: the others read as before
    if isinstance(event, Visit.Event):
        data = {"visit_id": str(event.originator_id), **{k: v for k, v in data.items() if k not in _VISIT_LINKS}}
    return data


def events_of(story: list) -> list[dict]:
    """The story as plain dicts; `version` is each event's place in it, from 1."""
    return [
        {
            "type": type(event).__name__,
            "version": place,
            "occurred_at": _plain(event.timestamp),
            "actor": event.actor,
            "data": _data(event),
        }
        for place, event in enumerate(story, start=1)
    ]


def customer_as_of(story: list, restaurant_events, at: datetime) -> dict:
    """The customer as of `at`, from their story; `restaurant_events` reads a restaurant's events."""
    customer = None
    visits: dict[UUID, Visit] = {}
    for event in story:
        if event.timestamp > at:
            break
        if isinstance(event, Visit.Event):
            visits[event.originator_id] = event.mutate(visits.get(event.originator_id))
        else:
            customer = event.mutate(customer)
    if customer is None or customer.deleted:
        raise CustomerNotFound(story[0].originator_id)
    counted = [(v["spend_cents"], v["visited_at"]) for v in customer.counted_visits]
    counted += [(v.spend_cents, v.visited_at) for v in visits.values() if not v.voided]
    restaurant = None
    for event in restaurant_events(customer.restaurant_id):
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
        "total_spend_cents": sum(spend for spend, _ in counted),
        "visit_count": len(counted),
        "last_visit_at": max((visited_at for _, visited_at in counted), default=None),
        "created_at": customer.created_on,
        "email_consent": customer.email_consent,
        "email_consent_changed_at": customer.email_consent_changed_at,
        "external_id": customer.external_id,
        "as_of": at,
    }
