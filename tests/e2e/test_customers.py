"""/api/customers/: register, list, search, read, replace, patch and delete customers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import CUSTOMER_FIELDS, PAGE_FIELDS, assert_error, assert_invalid, ids, when


def test_create_returns_the_customer_with_every_field(admin, restaurant, clock):
    response = admin.post(
        "/api/customers/",
        json={"restaurant": restaurant["id"], "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == CUSTOMER_FIELDS
    assert uuid.UUID(body["id"])
    assert body["restaurant"] == restaurant["id"]
    assert body["restaurant_name"] == "Pizza Palace"
    assert (body["email"], body["first_name"], body["last_name"]) == ("ada@example.com", "Ada", "Lovelace")
    assert body["total_spend_cents"] == 0
    assert body["total_spend_dollars"] == "0.00"
    assert body["visit_count"] == 0
    assert body["last_visit_at"] is None
    assert when(body["created_at"]) == clock.now
    # Check the read straight after the write returns the same customer.
    assert admin.get(f"/api/customers/{body['id']}/").get_json() == body


def test_names_default_to_empty(admin, restaurant):
    response = admin.post("/api/customers/", json={"restaurant": restaurant["id"], "email": "anon@example.com"})

    assert response.status_code == 201
    assert (response.get_json()["first_name"], response.get_json()["last_name"]) == ("", "")


def test_restaurant_key_may_omit_the_restaurant(restaurant, key_of):
    own = key_of(restaurant)

    response = own.post("/api/customers/", json={"email": "walk.in@example.com"})

    assert response.status_code == 201
    assert response.get_json()["restaurant"] == restaurant["id"]
    assert own.get(f"/api/customers/{response.get_json()['id']}/").status_code == 200


def test_admin_must_name_the_restaurant(admin, restaurant):
    assert_invalid(admin.post("/api/customers/", json={"email": "who@example.com"}), "restaurant")
    assert admin.get("/api/customers/").get_json()["count"] == 0


def test_unknown_restaurant_is_refused(admin, restaurant):
    response = admin.post("/api/customers/", json={"restaurant": str(uuid.uuid4()), "email": "who@example.com"})

    assert_invalid(response, "restaurant")
    assert admin.get("/api/customers/").get_json()["count"] == 0


@pytest.mark.parametrize("email", ["john.doe@example.com", "JOHN.DOE@EXAMPLE.COM", "John.Doe@Example.Com"])
def test_duplicate_email_in_the_same_restaurant_is_409(admin, restaurant, customer, email):
    response = admin.post("/api/customers/", json={"restaurant": restaurant["id"], "email": email})

    assert_error(response, 409)
    assert ids(admin.get("/api/customers/").get_json()) == [customer["id"]]


def test_same_email_in_another_restaurant_is_fine(admin, make, customer):
    other = make.restaurant("Other Place")

    response = admin.post("/api/customers/", json={"restaurant": other["id"], "email": customer["email"]})

    assert response.status_code == 201
    assert response.get_json()["restaurant"] == other["id"]
    assert admin.get("/api/customers/").get_json()["count"] == 2


def test_email_and_names_at_their_longest_are_accepted(admin, restaurant):
    email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"
    assert len(email) == 254
    response = admin.post(
        "/api/customers/",
        json={"restaurant": restaurant["id"], "email": email, "first_name": "F" * 200, "last_name": "L" * 200},
    )

    assert response.status_code == 201, response.get_json()
    body = admin.get(f"/api/customers/{response.get_json()['id']}/").get_json()
    assert (body["email"], body["first_name"], body["last_name"]) == (email, "F" * 200, "L" * 200)


def test_totals_and_dates_are_read_only(admin, restaurant, clock):
    response = admin.post(
        "/api/customers/",
        json={
            "restaurant": restaurant["id"],
            "email": "rich@example.com",
            "total_spend_cents": 999_999,
            "total_spend_dollars": "9999.99",
            "visit_count": 7,
            "last_visit_at": "2020-01-01T00:00:00+00:00",
            "created_at": "2020-01-01T00:00:00+00:00",
        },
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert (created["total_spend_cents"], created["total_spend_dollars"], created["visit_count"]) == (0, "0.00", 0)
    assert created["last_visit_at"] is None
    assert when(created["created_at"]) == clock.now

    # Check PATCH and PUT do not take them either.
    path = f"/api/customers/{created['id']}/"
    patched = admin.patch(path, json={"total_spend_cents": 5, "visit_count": 2, "first_name": "Rich"})
    assert patched.status_code == 200, patched.get_json()
    put = admin.put(path, json={"email": "rich@example.com", "total_spend_cents": 5, "created_at": "2020-01-01T00:00Z"})
    assert put.status_code == 200, put.get_json()
    after = admin.get(path).get_json()
    assert after == {**created, "first_name": "Rich"}


def test_customer_cannot_move_to_another_restaurant(admin, make, customer, restaurant):
    other = make.restaurant("Other Place")

    response = admin.patch(f"/api/customers/{customer['id']}/", json={"restaurant": other["id"]})

    assert response.status_code < 500
    assert admin.get(f"/api/customers/{customer['id']}/").get_json()["restaurant"] == restaurant["id"]
    assert admin.get("/api/customers/", query_string={"restaurant_id": other["id"]}).get_json()["count"] == 0


def test_put_replaces_email_and_names(admin, customer):
    path = f"/api/customers/{customer['id']}/"

    response = admin.put(path, json={"email": "jd@example.com", "first_name": "Jon", "last_name": "Dough"})

    assert response.status_code == 200
    expected = {**customer, "email": "jd@example.com", "first_name": "Jon", "last_name": "Dough"}
    assert response.get_json() == expected
    assert admin.get(path).get_json() == expected


def test_put_requires_the_email(admin, customer):
    assert_invalid(admin.put(f"/api/customers/{customer['id']}/", json={"first_name": "Jon"}), "email")
    assert admin.get(f"/api/customers/{customer['id']}/").get_json() == customer


def test_patch_changes_only_the_fields_given(admin, customer):
    response = admin.patch(f"/api/customers/{customer['id']}/", json={"last_name": "Smith"})

    assert response.status_code == 200
    assert response.get_json() == {**customer, "last_name": "Smith"}


def test_patch_to_another_customers_email_is_409(admin, make, restaurant, customer):
    other = make.customer(restaurant, "jane@example.com")

    assert_error(admin.patch(f"/api/customers/{other['id']}/", json={"email": "John.Doe@EXAMPLE.com"}), 409)
    assert admin.get(f"/api/customers/{other['id']}/").get_json() == other


def test_patch_may_change_the_case_of_the_own_email(admin, customer):
    response = admin.patch(f"/api/customers/{customer['id']}/", json={"email": "John.Doe@Example.com"})

    assert response.status_code == 200
    assert response.get_json()["email"] == "John.Doe@Example.com"


def test_changing_email_frees_the_old_one(admin, make, restaurant, customer):
    admin.patch(f"/api/customers/{customer['id']}/", json={"email": "new.john@example.com"})

    # Check the old address can be registered again and the new one cannot.
    assert make.customer(restaurant, "john.doe@example.com")["email"] == "john.doe@example.com"
    new = admin.post("/api/customers/", json={"restaurant": restaurant["id"], "email": "NEW.john@example.com"})
    assert_error(new, 409)


def test_invalid_patch_changes_nothing(admin, customer):
    path = f"/api/customers/{customer['id']}/"

    assert_invalid(admin.patch(path, json={"email": "not-an-email"}), "email")
    assert_invalid(admin.patch(path, json={"first_name": "x" * 201}), "first_name")
    assert admin.get(path).get_json() == customer


def test_list_is_newest_first_and_filters_by_restaurant(admin, make, restaurant, clock):
    other = make.restaurant("Other Place")
    first = make.customer(restaurant)
    clock.advance(minutes=1)
    elsewhere = make.customer(other)
    clock.advance(minutes=1)
    last = make.customer(restaurant)

    everyone = make.get("/api/customers/")
    assert set(everyone) == PAGE_FIELDS
    assert ids(everyone) == [last["id"], elsewhere["id"], first["id"]]
    assert everyone["results"][0] == last
    # Check ?restaurant_id= keeps only that restaurant's customers.
    mine = make.get("/api/customers/", query_string={"restaurant_id": restaurant["id"]})
    assert (mine["count"], ids(mine)) == (2, [last["id"], first["id"]])
    theirs = make.get("/api/customers/", query_string={"restaurant_id": other["id"]})
    assert (theirs["count"], ids(theirs)) == (1, [elsewhere["id"]])


def test_search_matches_email_or_name_case_insensitively(make, restaurant):
    people = {
        "ada": make.customer(restaurant, "Ada@Example.com", first_name="Ada", last_name="Lovelace"),
        "grace": make.customer(restaurant, "g.h@example.org", first_name="Grace", last_name="Hopper"),
    }
    table = {
        "ADA@": ["ada"],
        "lovelace": ["ada"],
        "LoVeLaCe": ["ada"],
        "ada lovelace": ["ada"],
        "grace": ["grace"],
        "HOPPER": ["grace"],
        "example.org": ["grace"],
        "example": ["ada", "grace"],
        "nobody": [],
        "%": [],
        "_": [],
    }

    answers = {}
    for search, _ in table.items():
        page = make.get("/api/customers/", query_string={"search": search})
        answers[search] = (page["count"], sorted(ids(page)))

    assert answers == {
        search: (len(names), sorted(people[name]["id"] for name in names)) for search, names in table.items()
    }


def test_search_and_restaurant_filter_combine(make, restaurant):
    other = make.restaurant("Other Place")
    here = make.customer(restaurant, "sam@example.com", first_name="Sam")
    make.customer(other, "sam@example.com", first_name="Sam")

    page = make.get("/api/customers/", query_string={"search": "sam", "restaurant_id": restaurant["id"]})

    assert ids(page) == [here["id"]]


def test_next_and_previous_links_walk_every_page(admin, make, restaurant, clock):
    other = make.restaurant("Other Place")
    created = []
    for n in range(5):
        created.append(make.customer(restaurant, f"regular{n}@example.com"))
        make.customer(other, f"regular{n}@example.com")
        clock.advance(seconds=1)
    newest_first = [c["id"] for c in reversed(created)]

    # Check following `next` visits every page once, keeping the filters.
    page = make.get("/api/customers/", query_string={"restaurant_id": restaurant["id"], "page_size": 2})
    seen, pages = ids(page), [page]
    assert page["count"] == 5 and page["previous"] is None
    while page["next"]:
        page = make.get(page["next"])
        pages.append(page)
        seen += ids(page)
    assert seen == newest_first
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    assert all(p["count"] == 5 for p in pages)

    # Check `previous` leads back the same way.
    back = make.get(pages[-1]["previous"])
    assert back == pages[1]
    assert make.get(back["previous"]) == pages[0]


def test_page_size_up_to_200_is_accepted(make, customer):
    page = make.get("/api/customers/", query_string={"page_size": 200})

    assert ids(page) == [customer["id"]]


def test_delete_removes_the_customer_everywhere(admin, make, restaurant, customer, clock):
    visit = make.visit(customer, 90_000, clock.now - timedelta(days=60))
    keep = make.customer(restaurant, "keep@example.com")
    make.visit(keep, 90_000, clock.now - timedelta(days=60))

    response = admin.delete(f"/api/customers/{customer['id']}/")

    assert response.status_code == 204
    assert response.get_data() == b""
    # Check the customer and their visits are gone from reads, lists and segments.
    path = f"/api/customers/{customer['id']}/"
    assert_error(admin.get(path), 404)
    assert ids(admin.get("/api/customers/").get_json()) == [keep["id"]]
    assert ids(admin.get("/api/customers/inactive/").get_json()) == [keep["id"]]
    assert ids(admin.get("/api/customers/high_spenders/").get_json()) == [keep["id"]]
    assert customer["id"] not in {v["customer"] for v in admin.get("/api/visits/").get_json()["results"]}
    assert_error(admin.get(f"/api/visits/{visit['id']}/"), 404)
    # Check no further change is possible.
    assert_error(admin.patch(path, json={"first_name": "Ghost"}), 404)
    assert_error(admin.put(path, json={"email": "ghost@example.com"}), 404)
    assert_error(admin.post(f"{path}add_visit/", json={"spend_cents": 100}), 404)
    assert_error(admin.delete(path), 404)


def test_deleted_customers_email_can_be_registered_again(admin, make, restaurant, customer):
    admin.delete(f"/api/customers/{customer['id']}/")

    again = make.customer(restaurant, "JOHN.DOE@example.com")

    assert again["id"] != customer["id"]
    assert again["total_spend_cents"] == 0 and again["visit_count"] == 0
    assert ids(admin.get("/api/customers/").get_json()) == [again["id"]]
