"""Hostile bodies, queries and odd characters are answered without a 5xx and never break later reads."""

from __future__ import annotations

import pytest

from tests.e2e.e2e_support import CUSTOMER_FIELDS, RESTAURANT_FIELDS
from tests.e2e.errors_support import OK_400, fill, shape_400, state
from tests.e2e.errors_support import world as world  # a fixture: imported by its name so pytest finds it here

# -- never a 5xx ----------------------------------------------------------------------------

HOSTILE_BODIES = [
    ("POST", "/api/restaurants/", "[" * 100_000 + "]" * 100_000),
    ("POST", "/api/restaurants/", '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": ' + "9" * 5000 + "}"),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": 1e400}'),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": NaN}'),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": 1, "visited_at": "0001-01-01T00:00:00+01:00"}'),
    ("PATCH", "/api/visits/{v}/", '{"visited_at": "0001-01-01T00:30:00+05:00"}'),
    ("POST", "/api/restaurants/", '{"name": "Caf\\ud800"}'),
    ("POST", "/api/customers/", '{"restaurant": "{r}", "email": "s@example.com", "first_name": "\\udfff"}'),
    ("PATCH", "/api/customers/{c}/", '{"last_name": "\\ud800\\ud800"}'),
]


def test_hostile_bodies_are_400_not_5xx(admin, world):
    before = state(admin, world)

    answers = {}
    for method, path, raw in HOSTILE_BODIES:
        response = admin.request(method, fill(path, world), data=fill(raw, world), content_type="application/json")
        answers[f"{method} {path} {raw[:60]}"] = shape_400(response)

    assert answers == {case: OK_400 for case in answers}
    assert state(admin, world) == before


def test_hostile_queries_are_answered_without_a_5xx(admin, world):
    cases = [
        ("/api/customers/{c}/", "as_of=0001-01-01T00:00:00%2B01:00"),
        ("/api/customers/{c}/", "as_of=9999-12-31T23:59:59-01:00"),
        ("/api/customers/{c}/", "as_of=%00"),
        ("/api/customers/", "search=%00"),
        ("/api/customers/", "search=a%00b"),
        ("/api/customers/", "search=%ED%A0%80"),
        ("/api/customers/", "search=%FF%FE"),
        ("/api/customers/", "restaurant_id=%00"),
        ("/api/visits/", "customer_id=%ED%A0%80"),
        ("/api/customers/inactive/", "days=%00"),
        ("/api/customers/high_spenders/", "min_spend_cents=%EF%BC%91"),  # a full-width digit one
    ]

    answers = {}
    for path, query in cases:
        response = admin.get(f"{fill(path, world)}?{query}")
        answers[(path, query)] = (response.status_code in (200, 400, 404), response.is_json, response.status_code)

    assert answers == {case: (True, True, status) for case, (_, _, status) in answers.items()}, answers


@pytest.mark.parametrize("text", ["a\x00b", "tab\tand\nnewline", "emoji \U0001f355 rtl \u202e"])
def test_odd_characters_in_names_never_break_later_reads(admin, restaurant, customer, text):
    # Check the odd writes themselves are answered without a 5xx.
    odd_restaurant = admin.post("/api/restaurants/", json={"name": text})
    odd_customer = admin.post(
        "/api/customers/", json={"restaurant": restaurant["id"], "email": "odd@example.com", "first_name": text}
    )
    assert odd_restaurant.status_code in (201, 400), odd_restaurant.get_data(as_text=True)
    assert odd_customer.status_code in (201, 400), odd_customer.get_data(as_text=True)

    # Check ordinary writes afterwards are still read straight back (read-your-writes).
    later_restaurant = admin.post("/api/restaurants/", json={"name": "Later"})
    later_customer = admin.post("/api/customers/", json={"restaurant": restaurant["id"], "email": "later@example.com"})
    later_visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 5})
    assert [
        admin.get(f"/api/restaurants/{later_restaurant.get_json()['id']}/").status_code,
        admin.get(f"/api/customers/{later_customer.get_json()['id']}/").status_code,
        admin.get(f"/api/visits/{later_visit.get_json()['id']}/").status_code,
        admin.get(f"/api/customers/{customer['id']}/").get_json()["total_spend_cents"],
    ] == [200, 200, 200, 5]
    assert later_restaurant.get_json().get("name") == "Later"
    assert set(later_customer.get_json()) == CUSTOMER_FIELDS

    # Check what was accepted reads back whole.
    if odd_restaurant.status_code == 201:
        assert set(odd_restaurant.get_json()) == RESTAURANT_FIELDS
        assert admin.get(f"/api/restaurants/{odd_restaurant.get_json()['id']}/").get_json()["name"] == text.strip()
    if odd_customer.status_code == 201:
        assert set(odd_customer.get_json()) == CUSTOMER_FIELDS
        assert admin.get(f"/api/customers/{odd_customer.get_json()['id']}/").get_json()["first_name"] == text.strip()
