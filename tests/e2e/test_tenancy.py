"""Tenancy: a restaurant key sees and touches only its own restaurant's rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import IdCall, assert_error, assert_invalid, call, id_calls, ids, iso

LISTS = (
    "/api/restaurants/",
    "/api/customers/",
    "/api/visits/",
    "/api/customers/inactive/",
    "/api/customers/high_spenders/",
)
_DELETE_ORDER = {"visit_id": 0, "customer_id": 1, "restaurant_id": 2}


@pytest.fixture
def two_tenants(admin, make, key_of, clock):
    """Restaurants A and B, each with a customer and a visit; B's key."""
    world = {}
    for tag in ("a", "b"):
        restaurant = make.restaurant(f"Restaurant {tag.upper()}")
        customer = make.customer(restaurant, f"shared-{tag}@example.com", first_name=f"Guest {tag.upper()}")
        visit = make.visit(customer, 60_000, clock.now - timedelta(days=45))
        world[tag] = {"restaurant": restaurant, "customer": customer, "visit": visit}
    world["key_b"] = key_of(world["b"]["restaurant"], "key-b")
    return world


def snapshot(admin, tenant: dict) -> dict:
    """Everything about a tenant's rows an intrusion could change."""
    return {
        "restaurant": admin.get(f"/api/restaurants/{tenant['restaurant']['id']}/").get_json(),
        "customer": admin.get(f"/api/customers/{tenant['customer']['id']}/").get_json(),
        "visit": admin.get(f"/api/visits/{tenant['visit']['id']}/").get_json(),
        "history": admin.get(f"/api/customers/{tenant['customer']['id']}/history/").get_json(),
    }


def ids_of(tenant: dict) -> dict[str, str]:
    return {kind: tenant[kind]["id"] for kind in ("restaurant", "customer", "visit")}


def ordered(calls: list[IdCall]) -> list[IdCall]:
    """Non-deleting calls first, then deletes of visits, customers, restaurants (in that order)."""
    return sorted(calls, key=lambda c: (c.method == "DELETE", _DELETE_ORDER[c.arguments[-1]]))


def test_every_id_route_answers_404_for_another_restaurants_ids(app, admin, two_tenants):
    calls = id_calls(app)
    assert len({c.rule for c in calls}) >= 5 and len(calls) >= 13, [str(c) for c in calls]
    before = snapshot(admin, two_tenants["a"])

    # Check every method of every route with an id answers 404 to B's key for A's ids.
    answers = {}
    for id_call in ordered(calls):
        response = call(two_tenants["key_b"], id_call, ids_of(two_tenants["a"]))
        answers[str(id_call)] = (response.status_code, (response.get_json() or {}).get("message"))
    assert {name: status for name, (status, _) in answers.items()} == {name: 404 for name in answers}, answers
    assert all(message for _, message in answers.values()), answers

    # Check A's rows are exactly as they were.
    assert snapshot(admin, two_tenants["a"]) == before


def test_the_same_calls_work_on_the_own_restaurants_ids(app, two_tenants):
    # Check the walk's bodies are valid, so the 404s above are about tenancy, not input.
    answers = {}
    for id_call in ordered(id_calls(app)):
        response = call(two_tenants["key_b"], id_call, ids_of(two_tenants["b"]))
        answers[str(id_call)] = response.status_code
    expected = {name: status for name, status in answers.items() if status in (200, 201, 204)}
    expected["DELETE /api/restaurants/<uuid:restaurant_id>/"] = 403  # admin only, even for its own
    assert answers == expected


def test_as_of_of_another_restaurants_customer_is_404(two_tenants, clock):
    customer = two_tenants["a"]["customer"]
    response = two_tenants["key_b"].get(f"/api/customers/{customer['id']}/", query_string={"as_of": iso(clock.now)})

    assert_error(response, 404)


def test_lists_and_segments_show_only_the_own_restaurant(admin, two_tenants, clock):
    clock.advance(days=31)
    b = two_tenants["b"]
    expected = {
        "/api/restaurants/": [b["restaurant"]["id"]],
        "/api/customers/": [b["customer"]["id"]],
        "/api/visits/": [b["visit"]["id"]],
        "/api/customers/inactive/": [b["customer"]["id"]],
        "/api/customers/high_spenders/": [b["customer"]["id"]],
    }
    assert set(expected) == set(LISTS)

    seen = {path: two_tenants["key_b"].get(path, query_string={}).get_json() for path in LISTS}

    assert {path: (page["count"], ids(page)) for path, page in seen.items()} == {
        path: (1, rows) for path, rows in expected.items()
    }
    # Check the admin sees both restaurants' rows there.
    assert {path: admin.get(path).get_json()["count"] for path in LISTS} == {path: 2 for path in LISTS}


def test_filters_naming_another_restaurant_find_nothing(two_tenants, clock):
    clock.advance(days=31)
    a = two_tenants["a"]
    cases = [
        ("/api/customers/", {"restaurant_id": a["restaurant"]["id"]}),
        ("/api/customers/", {"search": "shared-a"}),
        ("/api/customers/", {"search": "Guest A"}),
        ("/api/visits/", {"customer_id": a["customer"]["id"]}),
        ("/api/customers/inactive/", {"restaurant_id": a["restaurant"]["id"]}),
        ("/api/customers/high_spenders/", {"restaurant_id": a["restaurant"]["id"], "min_spend_cents": 0}),
    ]

    answers = {}
    for path, query in cases:
        response = two_tenants["key_b"].get(path, query_string=query)
        answers[(path, str(query))] = (
            response.status_code,
            response.get_json()["count"],
            response.get_json()["results"],
        )

    assert answers == {case: (200, 0, []) for case in answers}


def test_a_customer_cannot_be_registered_in_another_restaurant(admin, two_tenants):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]

    foreign = key_b.post("/api/customers/", json={"restaurant": a["restaurant"]["id"], "email": "spy@example.com"})
    unknown = key_b.post("/api/customers/", json={"restaurant": str(uuid.uuid4()), "email": "spy@example.com"})

    # Check another restaurant is indistinguishable from no restaurant at all.
    assert_invalid(foreign, "restaurant")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    listed = admin.get("/api/customers/", query_string={"restaurant_id": a["restaurant"]["id"]}).get_json()
    assert ids(listed) == [a["customer"]["id"]]


def test_a_visit_cannot_be_recorded_for_another_restaurants_customer(admin, two_tenants):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]
    before = snapshot(admin, a)

    foreign = key_b.post("/api/visits/", json={"customer": a["customer"]["id"], "spend_cents": 100})
    unknown = key_b.post("/api/visits/", json={"customer": str(uuid.uuid4()), "spend_cents": 100})

    assert_invalid(foreign, "customer")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    assert snapshot(admin, a) == before
    assert admin.get("/api/visits/").get_json()["count"] == 2


def test_an_email_used_in_another_restaurant_does_not_leak(two_tenants):
    key_b = two_tenants["key_b"]

    response = key_b.post("/api/customers/", json={"email": two_tenants["a"]["customer"]["email"]})

    assert response.status_code == 201
    assert response.get_json()["restaurant"] == two_tenants["b"]["restaurant"]["id"]
