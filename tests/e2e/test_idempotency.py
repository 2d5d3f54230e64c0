"""Idempotency-Key on the creating POSTs: a retry returns the first answer and records nothing twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import assert_error, assert_invalid, ids, iso


def post(api, path: str, body: dict, key: str | None):
    return api.post(path, json=body, headers={"Idempotency-Key": key} if key is not None else {})


def visit_events(admin, customer: dict) -> list[dict]:
    events = admin.get(f"/api/customers/{customer['id']}/history/").get_json()["events"]
    return [e for e in events if e["type"] == "VisitRecorded"]


def test_restaurant_retry_returns_the_first_answer(admin, clock):
    first = post(admin, "/api/restaurants/", {"name": "Once"}, "open-once")
    clock.advance(minutes=1)
    retry = post(admin, "/api/restaurants/", {"name": "Once"}, "open-once")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert ids(admin.get("/api/restaurants/").get_json()) == [first.get_json()["id"]]
    # Check another key opens another restaurant.
    other = post(admin, "/api/restaurants/", {"name": "Once"}, "open-twice")
    assert other.status_code == 201 and other.get_json()["id"] != first.get_json()["id"]
    assert admin.get("/api/restaurants/").get_json()["count"] == 2


def test_customer_retry_returns_the_first_answer(admin, restaurant, clock):
    body = {"restaurant": restaurant["id"], "email": "retry@example.com", "first_name": "Re"}
    first = post(admin, "/api/customers/", body, "register-1")
    clock.advance(minutes=1)
    retry = post(admin, "/api/customers/", body, "register-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert ids(admin.get("/api/customers/").get_json()) == [first.get_json()["id"]]
    # Check the retry is not mistaken for a duplicate, but another key is.
    assert post(admin, "/api/customers/", body, "register-2").status_code == 409


@pytest.mark.parametrize("route", ["add_visit", "visits"])
def test_visit_retry_returns_the_first_answer_and_counts_once(admin, customer, clock, route):
    path = f"/api/customers/{customer['id']}/add_visit/" if route == "add_visit" else "/api/visits/"
    body = {"spend_cents": 4_200} if route == "add_visit" else {"customer": customer["id"], "spend_cents": 4_200}

    first = post(admin, path, body, "visit-1")
    clock.advance(minutes=1)  # a retry without visited_at must not move the visit to "now"
    retry = post(admin, path, body, "visit-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    after = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert (after["visit_count"], after["total_spend_cents"]) == (1, 4_200)
    assert len(visit_events(admin, customer)) == 1
    assert ids(admin.get("/api/visits/").get_json()) == [first.get_json()["id"]]


def test_different_keys_record_different_visits(admin, customer):
    path = f"/api/customers/{customer['id']}/add_visit/"

    first = post(admin, path, {"spend_cents": 1_000}, "visit-a")
    second = post(admin, path, {"spend_cents": 1_000}, "visit-b")

    assert first.get_json()["id"] != second.get_json()["id"]
    after = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert (after["visit_count"], after["total_spend_cents"]) == (2, 2_000)


def test_without_a_key_every_post_records(admin, customer):
    path = f"/api/customers/{customer['id']}/add_visit/"

    responses = [post(admin, path, {"spend_cents": 500}, None) for _ in range(2)]

    assert len({r.get_json()["id"] for r in responses}) == 2
    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["visit_count"] == 2


def test_a_refused_request_does_not_use_up_the_key(admin, customer):
    path = f"/api/customers/{customer['id']}/add_visit/"

    assert_invalid(post(admin, path, {"spend_cents": -5}, "fix-and-retry"), "spend_cents")
    fixed = post(admin, path, {"spend_cents": 500}, "fix-and-retry")
    retry = post(admin, path, {"spend_cents": 500}, "fix-and-retry")

    assert (fixed.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == fixed.get_json()
    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["total_spend_cents"] == 500


@pytest.mark.parametrize("route", ["add_visit", "visits"])
def test_a_late_retry_does_not_bring_back_a_voided_visit(admin, customer, route):
    path = f"/api/customers/{customer['id']}/add_visit/" if route == "add_visit" else "/api/visits/"
    body = {"spend_cents": 2_500} if route == "add_visit" else {"customer": customer["id"], "spend_cents": 2_500}
    first = post(admin, path, body, "late-retry")
    assert admin.delete(f"/api/visits/{first.get_json()['id']}/").status_code == 204

    retry = post(admin, path, body, "late-retry")

    # Check the retry is a 409 naming the voided visit, and records nothing a second time.
    assert first.get_json()["id"] in assert_error(retry, 409)["message"]
    after = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert (after["visit_count"], after["total_spend_cents"]) == (0, 0)
    assert len(visit_events(admin, customer)) == 1
    assert admin.get(f"/api/visits/{first.get_json()['id']}/").status_code == 404


def test_a_late_retry_does_not_bring_back_a_deleted_customer(admin, restaurant):
    body = {"restaurant": restaurant["id"], "email": "gone@example.com"}
    first = post(admin, "/api/customers/", body, "register-gone")
    assert admin.delete(f"/api/customers/{first.get_json()['id']}/").status_code == 204

    retry = post(admin, "/api/customers/", body, "register-gone")

    assert first.get_json()["id"] in assert_error(retry, 409)["message"]
    assert admin.get(f"/api/customers/{first.get_json()['id']}/").status_code == 404
    assert admin.get("/api/customers/").get_json()["count"] == 0


def test_keys_of_different_callers_do_not_collide(admin, make, key_of):
    a, b = make.restaurant("A"), make.restaurant("B")

    from_a = post(key_of(a), "/api/customers/", {"email": "same@example.com"}, "shared-key")
    from_b = post(key_of(b), "/api/customers/", {"email": "same@example.com"}, "shared-key")

    assert (from_a.status_code, from_b.status_code) == (201, 201)
    assert from_a.get_json()["restaurant"] == a["id"]
    assert from_b.get_json()["restaurant"] == b["id"]
    assert admin.get("/api/customers/").get_json()["count"] == 2


@pytest.mark.parametrize("key", ["", "   ", "k" * 201, "caf\u00e9", "tab\tin"])
def test_an_invalid_key_is_400_and_records_nothing(admin, customer, key):
    response = post(admin, f"/api/customers/{customer['id']}/add_visit/", {"spend_cents": 100}, key)

    assert_invalid(response, "Idempotency-Key")
    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["visit_count"] == 0


def test_a_key_of_200_characters_is_accepted(admin, customer):
    key = "k" * 200
    path = f"/api/customers/{customer['id']}/add_visit/"

    first, retry = post(admin, path, {"spend_cents": 100}, key), post(admin, path, {"spend_cents": 100}, key)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.get_json() == retry.get_json()


def concurrently(app, key: str, requests: list[tuple[str, dict, str]], threads: int = 8) -> list:
    """Send `requests` (path, body, idempotency key) round-robin from `threads` threads at once."""
    barrier = threading.Barrier(threads)
    responses: list = [None] * threads

    def send(n: int) -> None:
        path, body, idempotency_key = requests[n % len(requests)]
        client = app.test_client()
        barrier.wait()
        response = client.post(
            path, json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key}
        )
        responses[n] = (response.status_code, response.get_json())

    workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), "a request hung"
    return responses


def test_concurrent_add_visit_with_one_key_counts_once(app, admin, customer, clock):
    path = f"/api/customers/{customer['id']}/add_visit/"
    body = {"spend_cents": 1_234, "visited_at": iso(clock.now - timedelta(hours=1))}

    responses = concurrently(app, admin.key, [(path, body, "burst")])

    assert [status for status, _ in responses] == [201] * 8, responses
    assert len({payload["id"] for _, payload in responses}) == 1
    assert all(payload == responses[0][1] for _, payload in responses)
    after = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert (after["visit_count"], after["total_spend_cents"]) == (1, 1_234)
    assert len(visit_events(admin, customer)) == 1


def test_concurrent_add_visit_with_two_keys_counts_twice(app, admin, customer):
    path = f"/api/customers/{customer['id']}/add_visit/"

    responses = concurrently(app, admin.key, [(path, {"spend_cents": 100}, "x"), (path, {"spend_cents": 100}, "y")])

    assert [status for status, _ in responses] == [201] * 8, responses
    assert len({payload["id"] for _, payload in responses}) == 2
    after = admin.get(f"/api/customers/{customer['id']}/").get_json()
    assert (after["visit_count"], after["total_spend_cents"]) == (2, 200)


def test_concurrent_registration_with_one_key_registers_once(app, admin, restaurant):
    body = {"restaurant": restaurant["id"], "email": "rush@example.com"}

    responses = concurrently(app, admin.key, [("/api/customers/", body, "rush")])

    assert [status for status, _ in responses] == [201] * 8, responses
    assert len({payload["id"] for _, payload in responses}) == 1
    assert admin.get("/api/customers/").get_json()["count"] == 1


def test_concurrent_registration_of_one_email_without_a_key_is_one_201_and_409s(app, admin, restaurant):
    body = {"restaurant": restaurant["id"], "email": "rush@example.com"}
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/customers/", json=body, headers={"Authorization": f"Bearer {admin.key}"})
        statuses.append(response.status_code)

    workers = [threading.Thread(target=send) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert sorted(statuses) == [201] + [409] * 7
    assert admin.get("/api/customers/").get_json()["count"] == 1


def test_a_late_retry_does_not_bring_back_a_deleted_restaurant(admin):
    first = post(admin, "/api/restaurants/", {"name": "Closed"}, "open-closed")
    assert admin.delete(f"/api/restaurants/{first.get_json()['id']}/").status_code == 204

    retry = post(admin, "/api/restaurants/", {"name": "Closed"}, "open-closed")

    assert first.get_json()["id"] in assert_error(retry, 409)["message"]
    assert admin.get(f"/api/restaurants/{first.get_json()['id']}/").status_code == 404
    assert admin.get("/api/restaurants/").get_json()["count"] == 0


def test_a_late_retry_does_not_bring_back_a_deleted_campaign(admin, restaurant):
    body = {"restaurant": restaurant["id"], "name": "Gone", "segment_type": "high_spenders", "segment_value": 0}
    body["message_template"] = "Hi"
    first = post(admin, "/api/campaigns/", body, "create-gone")
    assert admin.delete(f"/api/campaigns/{first.get_json()['id']}/").status_code == 204

    retry = post(admin, "/api/campaigns/", body, "create-gone")

    assert first.get_json()["id"] in assert_error(retry, 409)["message"]
    assert admin.get(f"/api/campaigns/{first.get_json()['id']}/").status_code == 404
    assert admin.get("/api/campaigns/").get_json()["count"] == 0
