"""Visits: add_visit, /api/visits/ (record, list, read, correct, void) and the customer's totals."""

from __future__ import annotations

import uuid
from datetime import timedelta, timezone

import pytest

from tests.e2e.e2e_support import PAGE_FIELDS, VISIT_FIELDS, assert_error, assert_invalid, ids, iso, when


def totals(admin, customer: dict) -> tuple:
    """(total_spend_cents, total_spend_dollars, visit_count, last_visit_at) as the API reports them."""
    body = admin.get(f"/api/customers/{customer['id']}/").get_json()
    listed = next(c for c in admin.get("/api/customers/").get_json()["results"] if c["id"] == customer["id"])
    assert listed == body, "the list and the detail disagree"
    return body["total_spend_cents"], body["total_spend_dollars"], body["visit_count"], when(body["last_visit_at"])


def test_add_visit_returns_the_visit(admin, customer, clock):
    response = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 3734})

    assert response.status_code == 201
    visit = response.get_json()
    assert set(visit) == VISIT_FIELDS
    assert uuid.UUID(visit["id"])
    assert visit["customer"] == customer["id"]
    assert visit["customer_email"] == customer["email"]
    assert (visit["spend_cents"], visit["spend_dollars"]) == (3734, "37.34")
    # Check visited_at defaults to now, and the visit reads back the same.
    assert when(visit["visited_at"]) == clock.now
    assert admin.get(f"/api/visits/{visit['id']}/").get_json() == visit
    assert totals(admin, customer) == (3734, "37.34", 1, clock.now)


def test_visited_at_with_an_offset_is_kept_as_the_same_instant(admin, customer, clock):
    moment = (clock.now - timedelta(days=2)).astimezone(timezone(timedelta(hours=2)))

    response = admin.post(
        f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 100, "visited_at": iso(moment)}
    )

    assert response.status_code == 201
    assert when(response.get_json()["visited_at"]) == moment
    assert when(response.get_json()["visited_at"]).utcoffset() == timedelta(0)


def test_spend_in_dollars(admin, make, restaurant):
    table = {0: "0.00", 5: "0.05", 100: "1.00", 1999: "19.99", 100_000_000: "1000000.00"}

    answers = {}
    for cents in table:
        customer = make.customer(restaurant)
        visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": cents}).get_json()
        total = admin.get(f"/api/customers/{customer['id']}/").get_json()["total_spend_dollars"]
        answers[cents] = (visit["spend_dollars"], total)

    assert answers == {cents: (dollars, dollars) for cents, dollars in table.items()}


def test_visit_up_to_five_minutes_ahead_of_the_clock_is_accepted(admin, customer, clock):
    path = f"/api/customers/{customer['id']}/add_visit/"

    ok = admin.post(path, json={"spend_cents": 1, "visited_at": iso(clock.now + timedelta(minutes=5))})
    assert ok.status_code == 201
    # Check one second more is refused, and counts for nothing.
    late = admin.post(path, json={"spend_cents": 1, "visited_at": iso(clock.now + timedelta(minutes=5, seconds=1))})
    assert_invalid(late, "visited_at")
    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["visit_count"] == 1


def test_post_visits_records_a_visit(admin, customer, clock):
    visited_at = clock.now - timedelta(hours=3)

    response = admin.post(
        "/api/visits/", json={"customer": customer["id"], "spend_cents": 2500, "visited_at": iso(visited_at)}
    )

    assert response.status_code == 201
    visit = response.get_json()
    assert set(visit) == VISIT_FIELDS
    assert (visit["customer"], visit["spend_cents"], visit["spend_dollars"]) == (customer["id"], 2500, "25.00")
    assert when(visit["visited_at"]) == visited_at
    assert totals(admin, customer) == (2500, "25.00", 1, visited_at)


def test_post_visits_without_visited_at_means_now(admin, customer, clock):
    response = admin.post("/api/visits/", json={"customer": customer["id"], "spend_cents": 10})

    assert response.status_code == 201
    assert when(response.get_json()["visited_at"]) == clock.now


@pytest.mark.parametrize("who", ["unknown", "deleted"])
def test_post_visits_for_a_missing_customer_is_refused(admin, make, restaurant, who):
    target = make.customer(restaurant)
    if who == "deleted":
        admin.delete(f"/api/customers/{target['id']}/")
    customer_id = target["id"] if who == "deleted" else str(uuid.uuid4())

    assert_invalid(admin.post("/api/visits/", json={"customer": customer_id, "spend_cents": 10}), "customer")
    assert admin.get("/api/visits/").get_json()["count"] == 0


def test_post_visits_requires_the_customer(admin, customer):
    assert_invalid(admin.post("/api/visits/", json={"spend_cents": 10}), "customer")


def test_list_is_most_recent_visit_first_and_filters_by_customer(admin, make, restaurant, customer, clock):
    other = make.customer(restaurant, "other@example.com")
    middle = make.visit(customer, 200, clock.now - timedelta(days=2))
    oldest = make.visit(customer, 100, clock.now - timedelta(days=5))
    newest = make.visit(customer, 300, clock.now - timedelta(hours=1))
    theirs = make.visit(other, 400, clock.now - timedelta(days=3))

    everything = make.get("/api/visits/")
    assert set(everything) == PAGE_FIELDS
    assert ids(everything) == [newest["id"], middle["id"], theirs["id"], oldest["id"]]
    assert everything["results"][0] == newest
    # Check ?customer_id= keeps only that customer's visits, in the same order.
    mine = make.get("/api/visits/", query_string={"customer_id": customer["id"]})
    assert (mine["count"], ids(mine)) == (3, [newest["id"], middle["id"], oldest["id"]])
    assert ids(make.get("/api/visits/", query_string={"customer_id": other["id"]})) == [theirs["id"]]


def test_visit_list_pages_follow(make, customer, clock):
    created = [make.visit(customer, n, clock.now - timedelta(days=n)) for n in range(1, 6)]

    page = make.get("/api/visits/", query_string={"customer_id": customer["id"], "page_size": 3})
    seen = ids(page)
    assert page["next"] is not None and page["previous"] is None
    page = make.get(page["next"])
    seen += ids(page)

    assert page["next"] is None and page["previous"] is not None
    assert seen == [v["id"] for v in created]


def test_put_corrects_spend_and_time(admin, customer, clock):
    visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 1000}).get_json()
    corrected_at = clock.now - timedelta(days=1)

    response = admin.put(f"/api/visits/{visit['id']}/", json={"spend_cents": 1250, "visited_at": iso(corrected_at)})

    assert response.status_code == 200
    body = response.get_json()
    assert body == {**visit, "spend_cents": 1250, "spend_dollars": "12.50", "visited_at": body["visited_at"]}
    assert when(body["visited_at"]) == corrected_at
    assert admin.get(f"/api/visits/{visit['id']}/").get_json() == body
    assert totals(admin, customer) == (1250, "12.50", 1, corrected_at)


def test_put_requires_the_spend(admin, customer):
    visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 1000}).get_json()

    assert_invalid(admin.put(f"/api/visits/{visit['id']}/", json={}), "spend_cents")
    assert admin.get(f"/api/visits/{visit['id']}/").get_json() == visit


def test_patch_corrects_only_the_fields_given(admin, customer, clock):
    visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 1000}).get_json()
    earlier = clock.now - timedelta(days=3)

    response = admin.patch(f"/api/visits/{visit['id']}/", json={"visited_at": iso(earlier)})

    assert response.status_code == 200
    assert response.get_json()["spend_cents"] == 1000
    assert when(response.get_json()["visited_at"]) == earlier
    assert totals(admin, customer) == (1000, "10.00", 1, earlier)
    # Check patching the spend keeps the corrected time.
    response = admin.patch(f"/api/visits/{visit['id']}/", json={"spend_cents": 0})
    assert (response.get_json()["spend_cents"], when(response.get_json()["visited_at"])) == (0, earlier)
    assert totals(admin, customer) == (0, "0.00", 1, earlier)


def test_correction_into_the_future_is_refused(admin, customer, clock):
    visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 1000}).get_json()

    future = iso(clock.now + timedelta(hours=1))
    assert_invalid(admin.patch(f"/api/visits/{visit['id']}/", json={"visited_at": future}), "visited_at")
    assert admin.get(f"/api/visits/{visit['id']}/").get_json() == visit


def test_a_visit_cannot_move_to_another_customer(admin, make, restaurant, customer):
    other = make.customer(restaurant, "other@example.com")
    visit = make.visit(customer, 500)

    response = admin.patch(f"/api/visits/{visit['id']}/", json={"customer": other["id"], "spend_cents": 600})

    assert response.status_code < 500
    assert admin.get(f"/api/visits/{visit['id']}/").get_json()["customer"] == customer["id"]
    assert admin.get(f"/api/customers/{other['id']}/").get_json()["total_spend_cents"] == 0


def test_delete_voids_the_visit(admin, make, customer, clock):
    earlier = make.visit(customer, 700, clock.now - timedelta(days=10))
    later = make.visit(customer, 300, clock.now - timedelta(days=1))

    response = admin.delete(f"/api/visits/{later['id']}/")

    assert response.status_code == 204
    assert response.get_data() == b""
    # Check the totals fall back to the remaining visit.
    assert totals(admin, customer) == (700, "7.00", 1, clock.now - timedelta(days=10))
    assert ids(admin.get("/api/visits/").get_json()) == [earlier["id"]]
    # Check the voided visit can no longer be read, corrected or voided.
    path = f"/api/visits/{later['id']}/"
    assert_error(admin.get(path), 404)
    assert_error(admin.patch(path, json={"spend_cents": 1}), 404)
    assert_error(admin.put(path, json={"spend_cents": 1}), 404)
    assert_error(admin.delete(path), 404)
    # Check voiding the last visit leaves no last visit at all.
    assert admin.delete(f"/api/visits/{earlier['id']}/").status_code == 204
    assert totals(admin, customer) == (0, "0.00", 0, None)


def test_customer_email_on_visits_follows_an_email_change(admin, make, customer):
    visit = make.visit(customer, 100)

    admin.patch(f"/api/customers/{customer['id']}/", json={"email": "john@example.net"})

    assert admin.get(f"/api/visits/{visit['id']}/").get_json()["customer_email"] == "john@example.net"


def test_totals_stay_exact_through_every_path(admin, make, restaurant, customer, clock):
    day = timedelta(days=1)
    path = f"/api/customers/{customer['id']}/"

    # Check add_visit counts.
    a = make.visit(customer, 1_000, clock.now - 9 * day)
    assert totals(admin, customer) == (1_000, "10.00", 1, clock.now - 9 * day)

    # Check POST /api/visits/ counts, and an older visit does not move last_visit_at back.
    b = admin.post(
        "/api/visits/", json={"customer": customer["id"], "spend_cents": 2_345, "visited_at": iso(clock.now - 3 * day)}
    ).get_json()
    c = make.visit(customer, 5, clock.now - 20 * day)
    assert totals(admin, customer) == (3_350, "33.50", 3, clock.now - 3 * day)

    # Check a refused visit counts for nothing.
    assert_invalid(admin.post(f"{path}add_visit/", json={"spend_cents": -1}), "spend_cents")
    assert totals(admin, customer) == (3_350, "33.50", 3, clock.now - 3 * day)

    # Check a correction of spend, then of time, updates the totals and the last visit.
    admin.put(f"/api/visits/{b['id']}/", json={"spend_cents": 2_000})
    assert totals(admin, customer) == (3_005, "30.05", 3, clock.now - 3 * day)
    admin.patch(f"/api/visits/{c['id']}/", json={"visited_at": iso(clock.now - day)})
    assert totals(admin, customer) == (3_005, "30.05", 3, clock.now - day)

    # Check a void of the latest visit gives last_visit_at back to the next one.
    admin.delete(f"/api/visits/{c['id']}/")
    assert totals(admin, customer) == (3_000, "30.00", 2, clock.now - 3 * day)

    # Check editing the customer's details leaves the totals alone.
    admin.patch(path, json={"first_name": "Johnny", "email": "johnny@example.com"})
    assert totals(admin, customer) == (3_000, "30.00", 2, clock.now - 3 * day)

    # Check the visit list agrees with the totals.
    listed = admin.get("/api/visits/", query_string={"customer_id": customer["id"]}).get_json()
    assert sorted(ids(listed)) == sorted([a["id"], b["id"]])
    assert sum(v["spend_cents"] for v in listed["results"]) == 3_000
