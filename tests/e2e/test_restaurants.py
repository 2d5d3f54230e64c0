"""/api/restaurants/: create, list, read, replace, patch and delete, with admin-only rules."""

from __future__ import annotations

import uuid

from tests.e2e.e2e_support import PAGE_FIELDS, RESTAURANT_FIELDS, assert_error, assert_invalid, ids, when


def test_create_returns_the_restaurant_with_every_field(admin, clock):
    response = admin.post("/api/restaurants/", json={"name": "Sushi Bar", "timezone": "Asia/Tokyo"})

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == RESTAURANT_FIELDS
    assert uuid.UUID(body["id"])
    assert body["name"] == "Sushi Bar"
    assert body["timezone"] == "Asia/Tokyo"
    assert when(body["created_at"]) == clock.now
    # Check the read straight after the write returns the same restaurant.
    assert admin.get(f"/api/restaurants/{body['id']}/").get_json() == body


def test_timezone_defaults_to_utc(admin):
    response = admin.post("/api/restaurants/", json={"name": "Diner"})

    assert response.status_code == 201
    assert response.get_json()["timezone"] == "UTC"


def test_read_only_fields_sent_on_create_are_not_taken(admin, clock):
    sent_id = str(uuid.uuid4())
    response = admin.post(
        "/api/restaurants/", json={"id": sent_id, "name": "Diner", "created_at": "2001-01-01T00:00:00+00:00"}
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != sent_id
    assert when(body["created_at"]) == clock.now


def test_list_is_an_envelope_newest_first(admin, make, clock):
    first = make.restaurant("First")
    clock.advance(minutes=1)
    second = make.restaurant("Second")
    clock.advance(minutes=1)
    third = make.restaurant("Third")

    page = make.get("/api/restaurants/")

    assert set(page) == PAGE_FIELDS
    assert page["count"] == 3
    assert page["next"] is None and page["previous"] is None
    assert ids(page) == [third["id"], second["id"], first["id"]]
    assert page["results"][0] == third


def test_get_unknown_restaurant_is_404(admin):
    assert_error(admin.get(f"/api/restaurants/{uuid.uuid4()}/"), 404)


def test_put_replaces_name_and_timezone(admin, restaurant):
    response = admin.put(f"/api/restaurants/{restaurant['id']}/", json={"name": "Pizza Place", "timezone": "UTC"})

    assert response.status_code == 200
    body = response.get_json()
    assert body == {**restaurant, "name": "Pizza Place", "timezone": "UTC"}
    # Check the change is visible to the next read and in the list.
    assert admin.get(f"/api/restaurants/{restaurant['id']}/").get_json() == body
    assert admin.get("/api/restaurants/").get_json()["results"] == [body]


def test_put_requires_a_name(admin, restaurant):
    assert_invalid(admin.put(f"/api/restaurants/{restaurant['id']}/", json={"timezone": "UTC"}), "name")
    assert admin.get(f"/api/restaurants/{restaurant['id']}/").get_json() == restaurant


def test_patch_changes_only_the_fields_given(admin, restaurant):
    response = admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"timezone": "Europe/Paris"})

    assert response.status_code == 200
    assert response.get_json() == {**restaurant, "timezone": "Europe/Paris"}
    # Check a second patch of the name keeps the new time zone.
    response = admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"name": "Pizza Paris"})
    assert response.get_json() == {**restaurant, "name": "Pizza Paris", "timezone": "Europe/Paris"}


def test_invalid_patch_changes_nothing(admin, restaurant):
    assert_invalid(admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"timezone": "Mars/Base"}), "timezone")
    assert_invalid(admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"name": ""}), "name")
    assert_invalid(admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"name": "   "}), "name")

    assert admin.get(f"/api/restaurants/{restaurant['id']}/").get_json() == restaurant


def test_host_specific_zone_file_is_not_a_time_zone(admin):
    # "localtime" is the server's own zone file, not an IANA name: the restaurant's day would follow the host.
    response = admin.post("/api/restaurants/", json={"name": "Diner", "timezone": "localtime"})

    assert_invalid(response, "timezone")
    assert admin.get("/api/restaurants/").get_json()["count"] == 0


def test_rename_shows_in_the_customers_restaurant_name(admin, restaurant, customer):
    admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"name": "Pizza Planet"})

    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["restaurant_name"] == "Pizza Planet"


def test_delete_removes_the_restaurant(admin, make):
    keep = make.restaurant("Keep")
    gone = make.restaurant("Gone")

    response = admin.delete(f"/api/restaurants/{gone['id']}/")

    assert response.status_code == 204
    assert response.get_data() == b""
    # Check it is gone from reads, the list, and further changes.
    assert_error(admin.get(f"/api/restaurants/{gone['id']}/"), 404)
    assert ids(admin.get("/api/restaurants/").get_json()) == [keep["id"]]
    assert_error(admin.patch(f"/api/restaurants/{gone['id']}/", json={"name": "Back"}), 404)
    assert_error(admin.put(f"/api/restaurants/{gone['id']}/", json={"name": "Back"}), 404)
    assert_error(admin.delete(f"/api/restaurants/{gone['id']}/"), 404)


def test_delete_with_customers_is_409_until_they_are_deleted(admin, restaurant, customer):
    # Check a restaurant with a customer cannot be deleted.
    assert_error(admin.delete(f"/api/restaurants/{restaurant['id']}/"), 409)
    assert admin.get(f"/api/restaurants/{restaurant['id']}/").status_code == 200

    # Check it can once its last customer is deleted.
    assert admin.delete(f"/api/customers/{customer['id']}/").status_code == 204
    assert admin.delete(f"/api/restaurants/{restaurant['id']}/").status_code == 204
    assert_error(admin.get(f"/api/restaurants/{restaurant['id']}/"), 404)


def test_deleted_restaurant_takes_no_new_customers(admin, make):
    gone = make.restaurant("Gone")
    admin.delete(f"/api/restaurants/{gone['id']}/")

    response = admin.post("/api/customers/", json={"restaurant": gone["id"], "email": "late@example.com"})

    assert_invalid(response, "restaurant")
    assert admin.get("/api/customers/").get_json()["count"] == 0


def test_restaurant_key_cannot_open_a_restaurant(admin, restaurant, key_of):
    own = key_of(restaurant)

    assert_error(own.post("/api/restaurants/", json={"name": "Sneaky"}), 403)
    assert admin.get("/api/restaurants/").get_json()["count"] == 1


def test_restaurant_key_cannot_delete_its_restaurant(admin, restaurant, key_of):
    own = key_of(restaurant)

    assert_error(own.delete(f"/api/restaurants/{restaurant['id']}/"), 403)
    assert admin.get(f"/api/restaurants/{restaurant['id']}/").status_code == 200


def test_restaurant_key_reads_its_own_restaurant(restaurant, key_of):
    own = key_of(restaurant)

    assert own.get(f"/api/restaurants/{restaurant['id']}/").get_json() == restaurant
    assert own.get("/api/restaurants/").get_json()["results"] == [restaurant]


def test_pages_hold_50_by_default(admin, make, clock):
    created = []
    for n in range(51):
        created.append(make.restaurant(f"Branch {n}")["id"])
        clock.advance(seconds=1)

    first = make.get("/api/restaurants/")

    assert (first["count"], len(first["results"]), first["previous"]) == (51, 50, None)
    assert ids(first) == created[::-1][:50]
    # Check the next page holds the oldest one, and links back.
    second = make.get(first["next"])
    assert (second["count"], ids(second), second["next"]) == (51, [created[0]], None)
    assert make.get(second["previous"]) == first
    # Check ?page= and ?page_size= reach the same rows.
    assert ids(make.get("/api/restaurants/", query_string={"page": 2, "page_size": 50})) == [created[0]]
    assert ids(make.get("/api/restaurants/", query_string={"page": 3, "page_size": 20})) == created[::-1][40:]
