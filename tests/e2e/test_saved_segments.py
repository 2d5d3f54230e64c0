"""/api/segments/: saved rules (create, list, read, change, delete), their members, and counts."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.e2e.e2e_support import PAGE_FIELDS, assert_created, assert_error, assert_invalid, ids, when

SEGMENT_FIELDS = {"id", "restaurant", "restaurant_name", "name", "rule", "created_at", "updated_at"}
REGULARS = {"field": "visit_count", "op": "gte", "value": 2}
BIG = {"field": "total_spend_cents", "op": "gte", "value": 10_000}


def _segment(api, restaurant: dict | None, name: str = "Regulars", rule: dict = REGULARS) -> dict:
    body = {"name": name, "rule": rule}
    if restaurant is not None:
        body["restaurant"] = restaurant["id"]
    return assert_created(api.post("/api/segments/", json=body))


def test_create_returns_the_segment_and_reads_back(admin, make, clock):
    restaurant = make.restaurant()
    body = _segment(admin, restaurant)
    assert set(body) == SEGMENT_FIELDS
    assert body["restaurant"] == restaurant["id"] and body["restaurant_name"] == restaurant["name"]
    assert (body["name"], body["rule"]) == ("Regulars", REGULARS)
    assert when(body["created_at"]) == when(body["updated_at"]) == clock.now
    assert admin.get(f"/api/segments/{body['id']}/").get_json() == body


def test_a_restaurant_key_creates_for_its_own_restaurant_and_sees_only_its_own(make, key_of):
    mine, theirs = make.restaurant("Mine"), make.restaurant("Theirs")
    my_key, their_key = key_of(mine), key_of(theirs)
    own = _segment(my_key, None)
    assert own["restaurant"] == mine["id"]
    other = _segment(their_key, None, "Theirs")
    assert ids(my_key.get("/api/segments/").get_json()) == [own["id"]]
    for method, body in (("get", None), ("patch", {"name": "x"}), ("delete", None)):
        response = getattr(my_key, method)(f"/api/segments/{other['id']}/", **({"json": body} if body else {}))
        assert_error(response, 404)
    assert_error(my_key.get(f"/api/segments/{other['id']}/customers/"), 404)
    # Check naming another restaurant in a create or a count is refused as unknown.
    assert_invalid(
        my_key.post("/api/segments/", json={"restaurant": theirs["id"], "name": "x", "rule": BIG}), "restaurant"
    )
    assert_invalid(my_key.post("/api/segments/count/", json={"restaurant": theirs["id"], "rule": BIG}), "restaurant")


def test_list_is_newest_first_and_filters_by_restaurant(admin, make, clock):
    first, second = make.restaurant("First"), make.restaurant("Second")
    a = _segment(admin, first, "A")
    clock.advance(minutes=1)
    b = _segment(admin, second, "B")
    page = admin.get("/api/segments/").get_json()
    assert set(page) == PAGE_FIELDS and ids(page) == [b["id"], a["id"]]
    assert ids(admin.get(f"/api/segments/?restaurant_id={first['id']}").get_json()) == [a["id"]]


def test_patch_and_put_change_name_and_rule(admin, make, clock):
    segment = _segment(admin, make.restaurant())
    clock.advance(minutes=5)
    patched = admin.patch(f"/api/segments/{segment['id']}/", json={"rule": BIG}).get_json()
    assert (patched["name"], patched["rule"]) == ("Regulars", BIG)
    assert when(patched["updated_at"]) == clock.now and patched["created_at"] == segment["created_at"]
    put = admin.put(f"/api/segments/{segment['id']}/", json={"name": "Big", "rule": REGULARS})
    assert put.status_code == 200 and (put.get_json()["name"], put.get_json()["rule"]) == ("Big", REGULARS)
    assert_invalid(admin.put(f"/api/segments/{segment['id']}/", json={"name": "Only a name"}), "rule")


def test_delete_removes_it(admin, make):
    segment = _segment(admin, make.restaurant())
    assert admin.delete(f"/api/segments/{segment['id']}/").status_code == 204
    assert_error(admin.get(f"/api/segments/{segment['id']}/"), 404)
    assert_error(admin.delete(f"/api/segments/{segment['id']}/"), 404)
    assert admin.get("/api/segments/").get_json()["count"] == 0


def test_a_bad_rule_is_a_400_naming_the_offending_node(admin, make):
    restaurant = make.restaurant()
    rule = {"all": [REGULARS, BIG, {"field": "visit_count", "op": "within_days", "value": 3}]}
    body = assert_invalid(
        admin.post("/api/segments/", json={"restaurant": restaurant["id"], "name": "x", "rule": rule})
    )
    assert "rule.all[2].op" in body["errors"], body
    body = assert_invalid(admin.post("/api/segments/count/", json={"restaurant": restaurant["id"], "rule": rule}))
    assert "rule.all[2].op" in body["errors"], body
    segment = _segment(admin, restaurant)
    body = assert_invalid(admin.patch(f"/api/segments/{segment['id']}/", json={"rule": {"any": []}}))
    assert "rule.any" in body["errors"], body
    # Check nothing was saved by the refused requests.
    assert admin.get("/api/segments/").get_json()["count"] == 1
    assert admin.get(f"/api/segments/{segment['id']}/").get_json()["rule"] == REGULARS


def test_members_and_count_follow_the_rule_now(admin, make, clock):
    restaurant = make.restaurant()
    regular = make.customer(restaurant, first_name="Regular")
    once = make.customer(restaurant, first_name="Once")
    make.customer(restaurant, first_name="Never")
    for _ in range(2):
        make.visit(regular, 6_000, clock.now - timedelta(days=1))
    make.visit(once, 500, clock.now - timedelta(days=1))
    segment = _segment(admin, restaurant)

    members = admin.get(f"/api/segments/{segment['id']}/customers/").get_json()
    assert set(members) == PAGE_FIELDS and ids(members) == [regular["id"]]
    counted = admin.post(
        "/api/segments/count/", json={"restaurant": restaurant["id"], "rule": {"any": [REGULARS, BIG]}}
    )
    assert counted.status_code == 200
    assert counted.get_json()["count"] == 1 and [c["id"] for c in counted.get_json()["sample"]] == [regular["id"]]
    # Check a change of the data shows in the next read of the saved segment.
    make.visit(once, 100, clock.now)
    assert sorted(ids(admin.get(f"/api/segments/{segment['id']}/customers/").get_json())) == sorted(
        [regular["id"], once["id"]]
    )


def test_count_of_an_unknown_restaurant_is_a_400(admin):
    assert_invalid(
        admin.post("/api/segments/count/", json={"restaurant": str(uuid.uuid4()), "rule": BIG}), "restaurant"
    )
    assert_invalid(admin.post("/api/segments/count/", json={"rule": BIG}), "restaurant")


def test_create_honours_idempotency_key(admin, make):
    restaurant = make.restaurant()
    body = {"restaurant": restaurant["id"], "name": "Regulars", "rule": REGULARS}
    first = admin.post("/api/segments/", json=body, headers={"Idempotency-Key": "seg-1"})
    again = admin.post("/api/segments/", json=body, headers={"Idempotency-Key": "seg-1"})
    assert first.status_code == again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert admin.get("/api/segments/").get_json()["count"] == 1
