"""Segments: /api/customers/inactive/ and /api/customers/high_spenders/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.e2e_support import PAGE_FIELDS, ids, iso

INACTIVE = "/api/customers/inactive/"
HIGH = "/api/customers/high_spenders/"


def inactive(make, **query) -> list[str]:
    return ids(make.get(INACTIVE, query_string=query))


def high(make, **query) -> list[str]:
    return ids(make.get(HIGH, query_string=query))


# -- inactive -------------------------------------------------------------------------------


def test_inactive_by_default_after_more_than_30_days(make, customer, clock):
    # Check exactly 30 x 24 h after registration is not yet inactive.
    clock.advance(days=30)
    assert inactive(make) == []
    # Check one second more is.
    clock.advance(seconds=1)
    page = make.get(INACTIVE)
    assert set(page) == PAGE_FIELDS
    assert ids(page) == [customer["id"]]
    assert page["results"][0] == make.get(f"/api/customers/{customer['id']}/")


def test_registered_today_is_not_inactive(make, customer, clock):
    clock.advance(hours=23, minutes=59)

    for days in (1, 2, 30, 36_500):
        assert inactive(make, days=days) == []
    # Check that a day later they are, for days=1 only.
    clock.advance(minutes=2)
    assert inactive(make, days=1) == [customer["id"]]
    assert inactive(make, days=2) == []


def test_days_zero_means_any_time_at_all(make, customer, clock):
    assert inactive(make, days=0) == []

    clock.advance(seconds=1)

    assert inactive(make, days=0) == [customer["id"]]


def test_last_visit_is_the_last_activity(make, customer, clock):
    clock.advance(days=100)
    make.visit(customer, 1_000, clock.now - timedelta(days=10))

    # Check a visit 10 days ago keeps them out of the 30-day segment but not the 5-day one.
    assert inactive(make) == []
    assert inactive(make, days=9) == [customer["id"]]
    assert inactive(make, days=10) == []


def test_a_visit_dated_in_the_past_is_the_last_activity(make, customer, clock):
    make.visit(customer, 1_000, clock.now - timedelta(days=40))

    assert inactive(make, days=30) == [customer["id"]]
    assert inactive(make, days=40) == []


def test_voiding_the_only_visit_falls_back_to_registration(admin, make, customer, clock):
    clock.advance(days=50)
    visit = make.visit(customer, 1_000, clock.now - timedelta(days=5))
    assert inactive(make) == []

    admin.delete(f"/api/visits/{visit['id']}/")

    assert inactive(make) == [customer["id"]]
    assert inactive(make, days=49) == [customer["id"]]
    assert inactive(make, days=50) == []


def test_correcting_the_visit_time_moves_the_last_activity(admin, make, customer, clock):
    clock.advance(days=60)
    visit = make.visit(customer, 1_000)
    assert inactive(make) == []

    admin.patch(f"/api/visits/{visit['id']}/", json={"visited_at": iso(clock.now - timedelta(days=45))})

    assert inactive(make) == [customer["id"]]
    assert inactive(make, days=45) == []


def test_longest_inactive_first(make, restaurant, clock):
    start = clock.now
    registered_only = make.customer(restaurant)  # last activity: start
    clock.advance(days=200)
    recent = make.customer(restaurant)
    make.visit(recent, 100, clock.now - timedelta(days=40))
    long_ago = make.customer(restaurant)
    make.visit(long_ago, 100, clock.now - timedelta(days=150))
    active = make.customer(restaurant)
    make.visit(active, 100, clock.now - timedelta(days=2))
    assert clock.now - start == timedelta(days=200)

    assert inactive(make) == [registered_only["id"], long_ago["id"], recent["id"]]
    assert inactive(make, days=100) == [registered_only["id"], long_ago["id"]]


def test_inactive_filters_by_restaurant_and_pages(make, restaurant, clock):
    other = make.restaurant("Other Place")
    here = [make.customer(restaurant) for _ in range(3)]
    there = make.customer(other)
    for n, customer in enumerate(here):
        make.visit(customer, 100, clock.now - timedelta(days=90 - n))
    clock.advance(days=31)

    assert inactive(make, restaurant_id=other["id"]) == [there["id"]]
    first = make.get(INACTIVE, query_string={"restaurant_id": restaurant["id"], "page_size": 2})
    second = make.get(first["next"])
    assert (first["count"], second["count"]) == (3, 3)
    assert ids(first) + ids(second) == [c["id"] for c in here]
    assert second["next"] is None


# -- high spenders --------------------------------------------------------------------------


def test_high_spenders_default_threshold_is_50000_inclusive(make, restaurant):
    at_threshold = make.customer(restaurant)
    make.visit(at_threshold, 50_000)
    just_below = make.customer(restaurant)
    make.visit(just_below, 49_999)

    page = make.get(HIGH)

    assert set(page) == PAGE_FIELDS
    assert (page["count"], ids(page)) == (1, [at_threshold["id"]])
    assert page["results"][0] == make.get(f"/api/customers/{at_threshold['id']}/")
    assert page["results"][0]["total_spend_dollars"] == "500.00"


def test_high_spenders_sum_every_visit_highest_first(make, restaurant):
    two_visits = make.customer(restaurant)
    make.visit(two_visits, 30_000)
    make.visit(two_visits, 30_000)
    big = make.customer(restaurant)
    make.visit(big, 90_000)
    small = make.customer(restaurant)
    make.visit(small, 1)
    nothing = make.customer(restaurant)

    assert high(make) == [big["id"], two_visits["id"]]
    assert high(make, min_spend_cents=1) == [big["id"], two_visits["id"], small["id"]]
    zero = make.get(HIGH, query_string={"min_spend_cents": 0})
    assert zero["count"] == 4
    assert ids(zero)[:3] == [big["id"], two_visits["id"], small["id"]]
    assert ids(zero)[3] == nothing["id"]
    assert high(make, min_spend_cents=10**12) == []


def test_corrections_and_voids_move_customers_across_the_threshold(admin, make, customer):
    visit = make.visit(customer, 60_000)
    assert high(make) == [customer["id"]]

    admin.patch(f"/api/visits/{visit['id']}/", json={"spend_cents": 40_000})
    assert high(make) == []

    second = make.visit(customer, 10_000)
    assert high(make) == [customer["id"]]

    admin.delete(f"/api/visits/{second['id']}/")
    assert high(make) == []


@pytest.mark.parametrize("segment", [INACTIVE, HIGH])
def test_segments_filter_by_restaurant(make, restaurant, clock, segment):
    other = make.restaurant("Other Place")
    here = make.customer(restaurant)
    there = make.customer(other)
    for customer in (here, there):
        make.visit(customer, 60_000, clock.now - timedelta(days=60))

    assert ids(make.get(segment, query_string={"restaurant_id": restaurant["id"]})) == [here["id"]]
    assert ids(make.get(segment, query_string={"restaurant_id": other["id"]})) == [there["id"]]
    assert sorted(ids(make.get(segment))) == sorted([here["id"], there["id"]])
