"""A customer's event history (/history/) and their state at a past moment (?as_of=)."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

from tests.e2e.e2e_support import CUSTOMER_FIELDS, assert_error, iso, when


def history(admin, customer: dict) -> list[dict]:
    response = admin.get(f"/api/customers/{customer['id']}/history/")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"customer", "events"}
    assert body["customer"] == customer["id"]
    for event in body["events"]:
        assert set(event) == {"type", "version", "occurred_at", "actor", "data"}
    return body["events"]


def as_of(api, customer: dict, moment):
    return api.get(f"/api/customers/{customer['id']}/", query_string={"as_of": iso(moment)})


def rebuilt(api, customer: dict, moment) -> dict:
    """The customer as of `moment`: every customer field, plus `as_of` echoing the moment (dropped here)."""
    response = as_of(api, customer, moment)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == CUSTOMER_FIELDS | {"as_of"}
    assert when(body.pop("as_of")) == moment
    return body


def test_history_lists_every_event_in_order_with_its_actor(admin, restaurant, key_of, clock):
    front_desk = key_of(restaurant, "front-desk")
    registered_at = clock.now
    customer = front_desk.post("/api/customers/", json={"email": "eve@example.com", "first_name": "Eve"}).get_json()

    # Check each later command adds one event, stamped with the clock and the key's name.
    visited_at = clock.advance(hours=1) - timedelta(minutes=30)
    visit = front_desk.post(
        f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 1500, "visited_at": iso(visited_at)}
    ).get_json()
    corrected_at = clock.advance(hours=1)
    assert admin.patch(f"/api/visits/{visit['id']}/", json={"spend_cents": 1700}).status_code == 200
    renamed_at = clock.advance(hours=1)
    assert admin.patch(f"/api/customers/{customer['id']}/", json={"last_name": "Adams"}).status_code == 200
    voided_at = clock.advance(hours=1)
    assert front_desk.delete(f"/api/visits/{visit['id']}/").status_code == 204

    events = history(admin, customer)

    assert [e["type"] for e in events] == [
        "Registered",
        "VisitRecorded",
        "VisitCorrected",
        "DetailsChanged",
        "VisitVoided",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [when(e["occurred_at"]) for e in events] == [
        registered_at,
        registered_at + timedelta(hours=1),
        corrected_at,
        renamed_at,
        voided_at,
    ]
    assert [e["actor"] for e in events] == ["front-desk", "front-desk", "admin-test", "admin-test", "front-desk"]
    # Check the events carry their data.
    assert events[0]["data"]["email"] == "eve@example.com"
    assert events[0]["data"]["first_name"] == "Eve"
    assert events[0]["data"]["restaurant_id"] == restaurant["id"]
    assert events[1]["data"]["visit_id"] == visit["id"]
    assert events[1]["data"]["spend_cents"] == 1500
    assert when(events[1]["data"]["visited_at"]) == visited_at
    assert events[2]["data"]["spend_cents"] == 1700
    assert events[3]["data"]["last_name"] == "Adams"
    assert events[4]["data"]["visit_id"] == visit["id"]
    # Check the restaurant key sees the same history.
    assert front_desk.get(f"/api/customers/{customer['id']}/history/").get_json()["events"] == events


def test_history_is_kept_after_deletion(admin, customer, clock):
    clock.advance(minutes=5)
    admin.delete(f"/api/customers/{customer['id']}/")

    events = history(admin, customer)

    assert [e["type"] for e in events] == ["Registered", "Deleted"]
    assert when(events[-1]["occurred_at"]) == clock.now
    assert events[-1]["actor"] == "admin-test"


def test_history_of_an_unknown_or_non_customer_id_is_404(admin, restaurant, customer):
    assert_error(admin.get(f"/api/customers/{uuid.uuid4()}/history/"), 404)
    assert_error(admin.get(f"/api/customers/{restaurant['id']}/history/"), 404)


def test_as_of_returns_the_customer_as_they_were(admin, make, restaurant, customer, clock):
    registered_at = clock.now
    clock.advance(days=1)
    visit = make.visit(customer, 2_000)
    visit_recorded_at = clock.now
    clock.advance(days=1)
    admin.patch(f"/api/customers/{customer['id']}/", json={"email": "john@example.net"})
    admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"name": "Pizza Planet"})
    clock.advance(days=1)
    make.visit(customer, 500)

    # Check before registration the customer did not exist.
    assert_error(as_of(admin, customer, registered_at - timedelta(seconds=1)), 404)

    # Check at registration and before the first visit: no spend, the original details.
    for moment in (registered_at, registered_at + timedelta(hours=23)):
        assert rebuilt(admin, customer, moment) == customer

    # Check after the first visit but before the email change.
    then = rebuilt(admin, customer, visit_recorded_at + timedelta(hours=1))
    assert then == {
        **customer,
        "total_spend_cents": 2_000,
        "total_spend_dollars": "20.00",
        "visit_count": 1,
        "last_visit_at": visit["visited_at"],
    }

    # Check after the changes: new email and restaurant name, still one visit.
    later = rebuilt(admin, customer, clock.now - timedelta(hours=1))
    assert (later["email"], later["restaurant_name"], later["visit_count"]) == (
        "john@example.net",
        "Pizza Planet",
        1,
    )

    # Check now (and in the future) it matches the current read.
    current = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert rebuilt(admin, customer, clock.now) == current
    assert rebuilt(admin, customer, clock.now + timedelta(days=365)) == current
    assert current["total_spend_cents"] == 2_500


def test_as_of_accepts_any_utc_offset(admin, make, customer, clock):
    clock.advance(hours=2)
    make.visit(customer, 900)
    just_before = (clock.now - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-7)))

    before = rebuilt(admin, customer, just_before)

    assert before["visit_count"] == 0
    assert rebuilt(admin, customer, clock.now.astimezone(timezone(timedelta(hours=9))))["visit_count"] == 1


def test_as_of_after_deletion_is_404_but_before_is_not(admin, customer, clock):
    registered_at = clock.now
    clock.advance(days=1)
    admin.delete(f"/api/customers/{customer['id']}/")

    assert_error(as_of(admin, customer, clock.now), 404)
    assert rebuilt(admin, customer, registered_at) == customer


def test_as_of_must_be_an_aware_iso_timestamp(admin, customer):
    values = ["2024-01-01T00:00:00", "2024-01-01", "yesterday", "2024-13-01T00:00:00Z", "", "1700000000"]

    answers = {}
    for value in values:
        response = admin.get(f"/api/customers/{customer['id']}/", query_string={"as_of": value})
        answers[value] = (response.status_code, "as_of" in (response.get_json().get("errors") or {}))

    assert answers == {value: (400, True) for value in values}


def test_as_of_for_an_unknown_or_non_customer_id_is_404(admin, restaurant, clock):
    for some_id in (uuid.uuid4(), restaurant["id"]):
        response = admin.get(f"/api/customers/{some_id}/", query_string={"as_of": iso(clock.now)})
        assert_error(response, 404)
