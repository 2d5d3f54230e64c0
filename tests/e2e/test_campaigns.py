"""/api/campaigns/: create, list, read, replace, patch and delete campaigns; previews; a whole run."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import (
    CAMPAIGN_FIELDS,
    OUTREACH_FIELDS,
    PAGE_FIELDS,
    STALE_HEADER,
    STATS_FIELDS,
    assert_conflict_names,
    assert_error,
    assert_invalid,
    bring_to,
    ids,
    wait_for_status,
    when,
)

README_EXAMPLE = {
    "name": "Win Back Inactive Customers",
    "status": "draft",
    "segment_type": "inactive_days",
    "segment_value": 30,
    "message_template": "Hi {first_name}, we miss you! Come back for 20% off.",
}
BODY = {
    "name": "Big spenders",
    "segment_type": "high_spenders",
    "segment_value": 50_000,
    "subject": "Thanks from {restaurant_name}",
    "message_template": "Dear {first_name} {last_name}",
}
NO_STATS = {"audience": None, "queued": 0, "sent": 0, "failed": 0, "skipped": 0}


def body_for(restaurant: dict, **changes) -> dict:
    return {"restaurant": restaurant["id"], **BODY, **changes}


def campaigns(admin, **query) -> dict:
    response = admin.get("/api/campaigns/", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- create -------------------------------------------------------------------------------


def test_create_returns_the_campaign_with_every_field(admin, restaurant, clock):
    response = admin.post("/api/campaigns/", json=body_for(restaurant))

    assert response.status_code == 201, response.get_json()
    assert STALE_HEADER not in response.headers
    body = response.get_json()
    assert set(body) == CAMPAIGN_FIELDS
    assert set(body["stats"]) == STATS_FIELDS
    assert uuid.UUID(body["id"])
    assert (body["restaurant"], body["restaurant_name"]) == (restaurant["id"], "Pizza Palace")
    assert {k: body[k] for k in BODY} == BODY
    assert body["status"] == "draft"
    assert when(body["created_at"]) == clock.now
    assert (body["started_at"], body["completed_at"]) == (None, None)
    assert body["stats"] == NO_STATS
    # Check the read straight after the write returns the same campaign.
    assert admin.get(f"/api/campaigns/{body['id']}/").get_json() == body


def test_the_readme_example_creates_a_draft(admin, restaurant):
    response = admin.post("/api/campaigns/", json={"restaurant": restaurant["id"], **README_EXAMPLE})

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "draft"
    assert body["name"] == "Win Back Inactive Customers"
    assert (body["segment_type"], body["segment_value"]) == ("inactive_days", 30)
    assert body["message_template"] == README_EXAMPLE["message_template"]


def test_subject_defaults_to_the_restaurant_name_placeholder(admin, restaurant):
    body = {k: v for k, v in body_for(restaurant).items() if k != "subject"}

    response = admin.post("/api/campaigns/", json=body)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["subject"] == "{restaurant_name}"


def test_status_on_create_may_only_be_draft(admin, restaurant):
    answers = {}
    for status in ("running", "paused", "cancelled", "completed", "DRAFT", "", None, 1, True, ["draft"]):
        response = admin.post("/api/campaigns/", json=body_for(restaurant, status=status))
        answers[repr(status)] = (response.status_code, "status" in (response.get_json().get("errors") or {}))

    assert answers == {name: (400, True) for name in answers}
    assert campaigns(admin)["count"] == 0
    # Check that leaving the status out creates a draft too.
    assert admin.post("/api/campaigns/", json=body_for(restaurant)).get_json()["status"] == "draft"


def test_read_only_fields_sent_on_create_are_not_taken(admin, restaurant, clock):
    sent_id = str(uuid.uuid4())
    response = admin.post(
        "/api/campaigns/",
        json=body_for(
            restaurant,
            id=sent_id,
            restaurant_name="Elsewhere",
            created_at="2020-01-01T00:00:00+00:00",
            started_at="2020-01-01T00:00:00+00:00",
            completed_at="2020-01-02T00:00:00+00:00",
            stats={"audience": 9, "queued": 0, "sent": 9, "failed": 0, "skipped": 0},
        ),
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] != sent_id
    assert body["restaurant_name"] == "Pizza Palace"
    assert when(body["created_at"]) == clock.now
    assert (body["started_at"], body["completed_at"], body["stats"]) == (None, None, NO_STATS)


def test_restaurant_key_may_omit_the_restaurant(restaurant, key_of):
    own = key_of(restaurant)

    response = own.post("/api/campaigns/", json=BODY)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["restaurant"] == restaurant["id"]
    assert own.get(f"/api/campaigns/{response.get_json()['id']}/").get_json() == response.get_json()


def test_admin_must_name_the_restaurant(admin, restaurant):
    assert_invalid(admin.post("/api/campaigns/", json=BODY), "restaurant")
    assert campaigns(admin)["count"] == 0


def test_unknown_restaurant_is_refused(admin, restaurant):
    assert_invalid(admin.post("/api/campaigns/", json={**BODY, "restaurant": str(uuid.uuid4())}), "restaurant")
    assert_invalid(admin.post("/api/campaigns/", json={**BODY, "restaurant": "not-a-uuid"}), "restaurant")
    assert campaigns(admin)["count"] == 0


def test_deleted_restaurant_takes_no_campaign(admin, make):
    gone = make.restaurant("Closed")
    assert admin.delete(f"/api/restaurants/{gone['id']}/").status_code == 204

    assert_invalid(admin.post("/api/campaigns/", json=body_for(gone)), "restaurant")
    assert campaigns(admin)["count"] == 0


@pytest.mark.parametrize("field", ["name", "segment_type", "segment_value", "message_template"])
def test_required_fields_on_create(admin, restaurant, field):
    body = {k: v for k, v in body_for(restaurant).items() if k != field}

    assert_invalid(admin.post("/api/campaigns/", json=body), field)
    assert campaigns(admin)["count"] == 0


def test_unknown_fields_are_refused(admin, restaurant):
    assert_invalid(admin.post("/api/campaigns/", json=body_for(restaurant, channel="sms")), "channel")
    assert campaigns(admin)["count"] == 0


def test_names_are_checked(admin, restaurant):
    answers = {}
    for name in ("", "   ", "x" * 201, 5, None, "bell\x07"):
        response = admin.post("/api/campaigns/", json=body_for(restaurant, name=name))
        answers[repr(name)] = (response.status_code, "name" in (response.get_json().get("errors") or {}))

    assert answers == {name: (400, True) for name in answers}
    # Check a 200-character name is fine.
    assert admin.post("/api/campaigns/", json=body_for(restaurant, name="x" * 200)).status_code == 201


def test_segment_type_must_be_one_of_the_two(admin, restaurant):
    answers = {}
    for segment_type in ("inactive", "HIGH_SPENDERS", "", None, 1):
        response = admin.post("/api/campaigns/", json=body_for(restaurant, segment_type=segment_type))
        answers[repr(segment_type)] = (
            response.status_code,
            "segment_type" in (response.get_json().get("errors") or {}),
        )

    assert answers == {name: (400, True) for name in answers}
    assert campaigns(admin)["count"] == 0


SEGMENT_LIMITS = {"inactive_days": 36_500, "high_spenders": 10**12}
NOT_INTEGERS = [30.0, 30.5, True, False, "30", None, [30], {"days": 30}]


@pytest.mark.parametrize("segment_type", SEGMENT_LIMITS)
def test_segment_value_is_an_integer_within_the_limits_of_its_type(admin, restaurant, segment_type):
    limit = SEGMENT_LIMITS[segment_type]

    # Check both ends are accepted.
    for value in (0, limit):
        created = admin.post(
            "/api/campaigns/", json=body_for(restaurant, segment_type=segment_type, segment_value=value)
        )
        assert created.status_code == 201, (value, created.get_json())
        assert created.get_json()["segment_value"] == value
    # Check everything else is refused, naming segment_value.
    answers = {}
    for value in (-1, limit + 1, *NOT_INTEGERS):
        response = admin.post(
            "/api/campaigns/", json=body_for(restaurant, segment_type=segment_type, segment_value=value)
        )
        answers[repr(value)] = (response.status_code, "segment_value" in (response.get_json().get("errors") or {}))
    assert answers == {name: (400, True) for name in answers}
    assert campaigns(admin)["count"] == 2


def test_segment_value_is_checked_on_put_and_patch(admin, make, restaurant):
    campaign = make.campaign(restaurant, **BODY)
    path = f"/api/campaigns/{campaign['id']}/"

    answers = {}
    for value in (-1, 10**12 + 1, *NOT_INTEGERS):
        put = admin.put(path, json={**BODY, "segment_value": value})
        patch = admin.patch(path, json={"segment_value": value})
        for method, response in (("PUT", put), ("PATCH", patch)):
            answers[(method, repr(value))] = (
                response.status_code,
                "segment_value" in (response.get_json().get("errors") or {}),
            )

    assert answers == {case: (400, True) for case in answers}
    assert admin.get(path).get_json() == campaign


def test_a_patch_of_the_segment_type_checks_the_value_against_the_new_type(admin, make, restaurant):
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=50_000)
    path = f"/api/campaigns/{campaign['id']}/"

    # Check 50,000 is too many days: the kept value is checked against the new type.
    assert_invalid(admin.patch(path, json={"segment_type": "inactive_days"}), "segment_value")
    assert admin.get(path).get_json() == campaign
    # Check both at once are fine.
    response = admin.patch(path, json={"segment_type": "inactive_days", "segment_value": 36_500})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["segment_type"], response.get_json()["segment_value"]) == ("inactive_days", 36_500)


def test_a_retry_with_the_same_idempotency_key_returns_the_first_campaign(admin, restaurant, clock):
    headers = {"Idempotency-Key": "campaign-1"}
    first = admin.post("/api/campaigns/", json=body_for(restaurant), headers=headers)
    clock.advance(minutes=1)
    retry = admin.post("/api/campaigns/", json=body_for(restaurant), headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.get_json() == first.get_json()
    assert ids(campaigns(admin)) == [first.get_json()["id"]]
    # Check a retry after the delete does not bring the campaign back.
    assert admin.delete(f"/api/campaigns/{first.get_json()['id']}/").status_code == 204
    assert_error(admin.post("/api/campaigns/", json=body_for(restaurant), headers=headers), 409)
    assert campaigns(admin)["count"] == 0


# -- read and list ------------------------------------------------------------------------


def test_get_unknown_campaign_is_404(admin, restaurant, customer):
    assert_error(admin.get(f"/api/campaigns/{uuid.uuid4()}/"), 404)
    # Check ids of other kinds are not campaigns either.
    assert_error(admin.get(f"/api/campaigns/{restaurant['id']}/"), 404)
    assert_error(admin.get(f"/api/campaigns/{customer['id']}/"), 404)


def test_list_is_an_envelope_newest_first_and_filters_by_restaurant(admin, make, restaurant, clock):
    other = make.restaurant("Other Place")
    mine, theirs, created = [], [], []
    for n in range(3):
        mine.append(make.campaign(restaurant, name=f"Mine {n}"))
        clock.advance(seconds=1)
        theirs.append(make.campaign(other, name=f"Theirs {n}"))
        clock.advance(seconds=1)
        created += [mine[-1], theirs[-1]]

    page = campaigns(admin)
    assert set(page) == PAGE_FIELDS
    assert page["count"] == 6 and (page["next"], page["previous"]) == (None, None)
    assert ids(page) == [c["id"] for c in reversed(created)]
    # Check the rows are the campaigns as GET returns them.
    assert page["results"][0] == admin.get(f"/api/campaigns/{theirs[-1]['id']}/").get_json()
    filtered = campaigns(admin, restaurant_id=restaurant["id"])
    assert (filtered["count"], ids(filtered)) == (3, [c["id"] for c in reversed(mine)])
    assert campaigns(admin, restaurant_id=str(uuid.uuid4()))["count"] == 0


def test_next_and_previous_links_walk_every_page(admin, make, restaurant, clock):
    created = []
    for n in range(5):
        created.append(make.campaign(restaurant, name=f"Campaign {n}"))
        clock.advance(seconds=1)

    page = make.get("/api/campaigns/", query_string={"restaurant_id": restaurant["id"], "page_size": 2})
    seen, pages = ids(page), [page]
    assert page["count"] == 5 and page["previous"] is None
    while page["next"]:
        page = make.get(page["next"])
        pages.append(page)
        seen += ids(page)
    assert seen == [c["id"] for c in reversed(created)]
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    assert make.get(pages[-1]["previous"]) == pages[1]


def test_list_query_parameters_are_checked(admin, restaurant):
    for query, field in (
        ({"page": "0"}, "page"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "1.5"}, "page_size"),
        ({"restaurant_id": "nope"}, "restaurant_id"),
    ):
        assert_invalid(admin.get("/api/campaigns/", query_string=query), field)


def test_campaign_routes_need_an_api_key(client, admin, make, restaurant):
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"
    calls = [
        ("GET", "/api/campaigns/", None),
        ("POST", "/api/campaigns/", body_for(restaurant)),
        ("POST", "/api/campaigns/preview/", body_for(restaurant)),
        ("GET", path, None),
        ("PUT", path, BODY),
        ("PATCH", path, {"name": "X"}),
        ("DELETE", path, None),
        ("POST", f"{path}run/", None),
        ("POST", f"{path}pause/", None),
        ("POST", f"{path}resume/", None),
        ("POST", f"{path}cancel/", None),
        ("GET", f"{path}preview/", None),
        ("GET", f"{path}events/", None),
        ("GET", "/api/outreach-events/", None),
        ("GET", f"/api/outreach-events/{uuid.uuid4()}/", None),
    ]

    answers = {}
    for method, url, body in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-key"}):
            response = client.open(url, method=method, json=body, headers=headers)
            answers[(method, url, str(headers))] = (response.status_code, "WWW-Authenticate" in response.headers)

    assert answers == {case: (401, True) for case in answers}
    assert admin.get(path).get_json() == campaign
    assert campaigns(admin)["count"] == 1


# -- change and delete --------------------------------------------------------------------


def test_put_replaces_the_settings(admin, make, restaurant):
    campaign = make.campaign(restaurant)

    response = admin.put(f"/api/campaigns/{campaign['id']}/", json=BODY)

    assert response.status_code == 200, response.get_json()
    assert STALE_HEADER not in response.headers
    expected = {**campaign, **BODY}
    assert response.get_json() == expected
    assert admin.get(f"/api/campaigns/{campaign['id']}/").get_json() == expected


@pytest.mark.parametrize("field", ["name", "segment_type", "segment_value", "message_template"])
def test_put_requires_every_setting(admin, make, restaurant, field):
    campaign = make.campaign(restaurant)

    response = admin.put(f"/api/campaigns/{campaign['id']}/", json={k: v for k, v in BODY.items() if k != field})

    assert_invalid(response, field)
    assert admin.get(f"/api/campaigns/{campaign['id']}/").get_json() == campaign


def test_patch_changes_only_the_fields_given(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"

    for changes in ({"name": "Renamed"}, {"subject": "News"}, {"segment_value": 60}, {"message_template": "Hey"}):
        response = admin.patch(path, json=changes)
        assert response.status_code == 200, response.get_json()
        campaign = {**campaign, **changes}
        assert response.get_json() == campaign
    assert admin.get(path).get_json() == campaign


def test_status_is_never_written_by_put_or_patch(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"

    answers = {}
    for status in ("draft", "running", "completed", None):
        for method, body in (("PUT", {**BODY, "status": status}), ("PATCH", {"status": status})):
            response = admin.request(method, path, json=body)
            answers[(method, repr(status))] = (
                response.status_code,
                "status" in (response.get_json().get("errors") or {}),
            )

    assert answers == {case: (400, True) for case in answers}
    assert admin.get(path).get_json() == campaign


def test_read_only_fields_sent_on_change_are_not_taken(admin, make, restaurant):
    other = make.restaurant("Other Place")
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"
    echoed = {
        "id": str(uuid.uuid4()),
        "restaurant": other["id"],
        "restaurant_name": "Elsewhere",
        "created_at": "2020-01-01T00:00:00+00:00",
        "started_at": "2020-01-01T00:00:00+00:00",
        "completed_at": "2020-01-01T00:00:00+00:00",
        "stats": {"audience": 1, "queued": 0, "sent": 1, "failed": 0, "skipped": 0},
    }

    patched = admin.patch(path, json={**echoed, "name": "Renamed"})
    put = admin.put(path, json={**echoed, **BODY})

    assert (patched.status_code, put.status_code) == (200, 200), (patched.get_json(), put.get_json())
    assert admin.get(path).get_json() == {**campaign, **BODY}
    assert campaigns(admin, restaurant_id=other["id"])["count"] == 0


def test_an_invalid_change_changes_nothing(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"

    assert_invalid(admin.patch(path, json={"name": "Renamed", "message_template": "Hi {email}"}), "message_template")
    assert_invalid(admin.put(path, json={**BODY, "segment_type": "loyal"}), "segment_type")

    assert admin.get(path).get_json() == campaign


def test_delete_removes_a_draft_everywhere(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    kept = make.campaign(restaurant, name="Kept")
    path = f"/api/campaigns/{campaign['id']}/"

    response = admin.delete(path)

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_error(admin.get(path), 404)
    assert ids(campaigns(admin)) == [kept["id"]]
    assert_error(admin.delete(path), 404)
    assert_error(admin.patch(path, json={"name": "Back"}), 404)
    assert_error(admin.put(path, json=BODY), 404)
    assert_error(admin.post(f"{path}run/"), 404)
    assert_error(admin.get(f"{path}preview/"), 404)
    assert_error(admin.get(f"{path}events/"), 404)


def test_unknown_campaign_is_404_for_every_change(admin, restaurant):
    path = f"/api/campaigns/{uuid.uuid4()}/"

    assert_error(admin.put(path, json=BODY), 404)
    assert_error(admin.patch(path, json={"name": "X"}), 404)
    assert_error(admin.delete(path), 404)


@pytest.mark.parametrize("status", ["running", "paused", "cancelled", "completed"])
def test_only_a_draft_can_be_edited_or_deleted(admin, make, container, restaurant, status):
    campaign = bring_to(make, container, make.campaign(restaurant), status)
    path = f"/api/campaigns/{campaign['id']}/"

    assert_conflict_names(admin.put(path, json=BODY), status)
    assert_conflict_names(admin.patch(path, json={"name": "Renamed"}), status)
    assert_conflict_names(admin.delete(path), status)

    assert admin.get(path).get_json() == campaign


def test_a_restaurant_key_manages_its_own_campaigns(restaurant, key_of, make):
    own = key_of(restaurant)
    campaign = make.campaign(None, api=own)
    path = f"/api/campaigns/{campaign['id']}/"

    assert own.patch(path, json={"name": "Renamed"}).get_json()["name"] == "Renamed"
    assert own.put(path, json=BODY).status_code == 200
    assert ids(own.get("/api/campaigns/").get_json()) == [campaign["id"]]
    assert own.delete(path).status_code == 204
    assert own.get("/api/campaigns/").get_json()["count"] == 0


# -- preview ------------------------------------------------------------------------------


def names_by_id(customers: list[dict]) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["first_name"], c["last_name"]) for c in customers}


def test_preview_renders_subject_and_message_for_the_audience(admin, make, restaurant, clock):
    people = [
        make.customer(restaurant, first_name="Ada", last_name="Lovelace"),
        make.customer(restaurant, first_name="Alan", last_name="Turing"),
        make.customer(restaurant, first_name="Grace", last_name="Hopper"),
    ]
    clock.advance(days=31)
    campaign = make.campaign(
        restaurant,
        subject="{first_name}, {restaurant_name} misses you",
        message_template="Dear {first_name} {last_name}, come back to {restaurant_name}!",
    )

    response = admin.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert set(preview) == {"audience", "samples"}
    assert preview["audience"] == 3
    assert all(set(sample) == {"customer", "subject", "message"} for sample in preview["samples"])
    names = names_by_id(people)
    assert sorted(s["customer"] for s in preview["samples"]) == sorted(names)
    for sample in preview["samples"]:
        first, last = names[sample["customer"]]
        assert sample["subject"] == f"{first}, Pizza Palace misses you"
        assert sample["message"] == f"Dear {first} {last}, come back to Pizza Palace!"


def test_preview_shows_at_most_five_samples(admin, make, restaurant, clock):
    people = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(7)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant, message_template="Hi {first_name}")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert preview["audience"] == 7
    assert len(preview["samples"]) == 5
    names = names_by_id(people)
    customers = [s["customer"] for s in preview["samples"]]
    assert len(set(customers)) == 5 and set(customers) <= set(names)
    assert all(s["message"] == f"Hi {names[s['customer']][0]}" for s in preview["samples"])
    # Check the default subject renders the restaurant's name.
    assert {s["subject"] for s in preview["samples"]} == {"Pizza Palace"}


def test_preview_follows_the_inactive_days_segment_and_the_clock(admin, make, restaurant, clock):
    regular = make.customer(restaurant, first_name="Regular")
    lapsed = make.customer(restaurant, first_name="Lapsed")
    make.visit(lapsed, 1_000, clock.now - timedelta(days=20))
    campaign = make.campaign(restaurant, segment_type="inactive_days", segment_value=30)
    path = f"/api/campaigns/{campaign['id']}/preview/"

    def audience() -> tuple[int, list[str]]:
        preview = make.get(path)
        return preview["audience"], sorted(s["customer"] for s in preview["samples"])

    # Check nobody is inactive yet; the lapsed customer is after 10 more days and a second.
    assert audience() == (0, [])
    clock.advance(days=10, seconds=1)
    assert audience() == (1, [lapsed["id"]])
    # Check the regular follows 20 days later, unless a visit brings them back.
    clock.advance(days=20)
    assert audience() == (2, sorted([regular["id"], lapsed["id"]]))
    make.visit(lapsed, 500, clock.now)
    assert audience() == (1, [regular["id"]])


def test_preview_follows_the_high_spenders_segment(admin, make, restaurant):
    big = make.customer(restaurant, first_name="Big")
    exact = make.customer(restaurant, first_name="Exact")
    small = make.customer(restaurant, first_name="Small")
    make.customer(restaurant, first_name="Never")
    make.visit(big, 30_000)
    make.visit(big, 30_000)
    make.visit(exact, 50_000)
    make.visit(small, 49_999)
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=50_000, message_template="Hi")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert preview["audience"] == 2
    assert sorted(s["customer"] for s in preview["samples"]) == sorted([big["id"], exact["id"]])
    # Check a preview reflects an edit of the threshold at once.
    assert admin.patch(f"/api/campaigns/{campaign['id']}/", json={"segment_value": 0}).status_code == 200
    assert make.get(f"/api/campaigns/{campaign['id']}/preview/")["audience"] == 4


def test_preview_counts_only_the_campaigns_restaurant(admin, make, restaurant, clock):
    mine = make.customer(restaurant, first_name="Mine")
    other = make.restaurant("Other Place")
    make.customer(other, first_name="Theirs")
    clock.advance(days=31)
    campaign = make.campaign(restaurant)

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert (preview["audience"], [s["customer"] for s in preview["samples"]]) == (1, [mine["id"]])


def test_preview_of_an_unsaved_campaign_saves_nothing(admin, make, restaurant, clock):
    ada = make.customer(restaurant, first_name="Ada", last_name="Lovelace")
    clock.advance(days=31)

    response = admin.post(
        "/api/campaigns/preview/",
        json={**README_EXAMPLE, "restaurant": restaurant["id"], "subject": "{restaurant_name} for {last_name}"},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "audience": 1,
        "samples": [
            {
                "customer": ada["id"],
                "subject": "Pizza Palace for Lovelace",
                "message": "Hi Ada, we miss you! Come back for 20% off.",
            }
        ],
    }
    assert campaigns(admin)["count"] == 0


def test_preview_of_an_unsaved_campaign_uses_the_default_subject(admin, make, restaurant, clock):
    make.customer(restaurant, first_name="Ada")
    clock.advance(days=31)
    body = {k: v for k, v in README_EXAMPLE.items() if k != "status"}

    preview = admin.post("/api/campaigns/preview/", json={**body, "restaurant": restaurant["id"]}).get_json()

    assert [s["subject"] for s in preview["samples"]] == ["Pizza Palace"]


def test_preview_of_an_unsaved_campaign_checks_the_body_like_create(admin, make, restaurant):
    make.customer(restaurant)
    body = body_for(restaurant)
    cases = [
        ({k: v for k, v in body.items() if k != "restaurant"}, "restaurant"),
        ({**body, "restaurant": str(uuid.uuid4())}, "restaurant"),
        ({k: v for k, v in body.items() if k != "message_template"}, "message_template"),
        ({**body, "segment_value": 1.5}, "segment_value"),
        ({**body, "segment_type": "inactive_days", "segment_value": 36_501}, "segment_value"),
        ({**body, "subject": "{email}"}, "subject"),
        ({**body, "status": "running"}, "status"),
    ]

    for case, field in cases:
        assert_invalid(admin.post("/api/campaigns/preview/", json=case), field)
    assert campaigns(admin)["count"] == 0


def test_preview_by_a_restaurant_key_may_omit_the_restaurant(make, restaurant, key_of):
    guest = make.customer(restaurant, first_name="Guest")
    make.visit(guest, 70_000)

    preview = key_of(restaurant).post("/api/campaigns/preview/", json=BODY)

    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["audience"] == 1
    assert preview.get_json()["samples"][0]["message"] == "Dear Guest "


def test_preview_of_an_unknown_campaign_is_404(admin, restaurant):
    assert_error(admin.get(f"/api/campaigns/{uuid.uuid4()}/preview/"), 404)


# -- a whole run --------------------------------------------------------------------------


def test_a_campaign_runs_to_completion_through_the_api(admin, make, restaurant, clock, embedded):
    lapsed = [make.customer(restaurant, first_name=f"Lapsed{n}", last_name="Guest") for n in range(4)]
    regular = make.customer(restaurant, first_name="Regular")
    clock.advance(days=40)
    make.visit(regular, 2_500, clock.now - timedelta(days=2))
    newcomer = make.customer(restaurant, first_name="New")
    campaign = make.campaign(restaurant, **{k: v for k, v in README_EXAMPLE.items() if k != "status"})
    path = f"/api/campaigns/{campaign['id']}/"
    audience = {c["id"] for c in lapsed}

    # Check the preview shows the audience the run will reach.
    preview = make.get(f"{path}preview/")
    assert preview["audience"] == 4
    assert {s["customer"] for s in preview["samples"]} == audience

    started = admin.post(f"{path}run/")
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["status"] == "running"
    assert when(started.get_json()["started_at"]) == clock.now

    done = wait_for_status(admin, campaign, "completed")

    assert done["stats"] == {"audience": 4, "queued": 0, "sent": 4, "failed": 0, "skipped": 0}
    assert when(done["completed_at"]) == clock.now
    events = make.get(f"{path}events/", query_string={"page_size": 100})
    assert events["count"] == 4
    assert {e["customer"] for e in events["results"]} == audience
    assert not {e["customer"] for e in events["results"]} & {regular["id"], newcomer["id"]}
    emails = {c["id"]: c["email"] for c in lapsed}
    for event in events["results"]:
        assert set(event) == OUTREACH_FIELDS
        assert (event["campaign"], event["campaign_name"]) == (campaign["id"], campaign["name"])
        assert event["customer_email"] == emails[event["customer"]]
        assert (event["channel"], event["status"], event["error_message"]) == ("email", "sent", None)
        assert event["attempts"] == 1
        assert when(event["sent_at"]) == clock.now
    assert make.get(f"{path}events/", query_string={"status": "sent"})["count"] == 4
    listed = make.get("/api/outreach-events/", query_string={"campaign_id": campaign["id"], "page_size": 100})
    assert listed["results"] == events["results"]
    # Check a campaign runs once, and stays completed.
    assert_conflict_names(admin.post(f"{path}run/"), "completed")
    assert make.get(path) == done


def test_a_customer_removed_after_the_audience_was_fixed_is_skipped(
    admin, make, container, restaurant, clock, start_worker
):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    started = make.control(campaign, "run")
    # Fix the audience as the worker's first step does, then remove a customer before any sending.
    audience = container.campaign_queries.audience_ids(
        uuid.UUID(restaurant["id"]), "inactive_days", 30, when(started["started_at"])
    )
    assert sorted(map(str, audience)) == sorted(g["id"] for g in guests)
    container.application.plan_audience(uuid.UUID(campaign["id"]), audience)
    gone = guests[1]
    assert admin.delete(f"/api/customers/{gone['id']}/").status_code == 204

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    assert done["stats"] == {"audience": 3, "queued": 0, "sent": 2, "failed": 0, "skipped": 1}
    events = {e["customer"]: e for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert set(events) == {g["id"] for g in guests}
    skipped = events[gone["id"]]
    assert (skipped["status"], skipped["customer_email"], skipped["sent_at"]) == ("skipped", None, None)
    assert isinstance(skipped["error_message"], str) and skipped["error_message"].strip()
    assert [e["status"] for c, e in events.items() if c != gone["id"]] == ["sent", "sent"]
    assert make.get(f"/api/campaigns/{campaign['id']}/events/", query_string={"status": "skipped"})["count"] == 1


def test_a_customer_removed_after_the_start_is_skipped_even_before_the_worker_fixes_the_audience(
    admin, make, restaurant, clock, start_worker
):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    clock.advance(seconds=1)
    # No worker yet: the customer is removed after the start, before the audience is fixed.
    gone = guests[0]
    assert admin.delete(f"/api/customers/{gone['id']}/").status_code == 204

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    events = {e["customer"]: e for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert set(events) == {g["id"] for g in guests}
    assert events[gone["id"]]["status"] == "skipped"
    assert isinstance(events[gone["id"]]["error_message"], str) and events[gone["id"]]["error_message"]
    assert done["stats"] == {"audience": 3, "queued": 0, "sent": 2, "failed": 0, "skipped": 1}


def test_the_audience_is_the_segment_at_the_start(admin, make, restaurant, clock, start_worker):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    clock.advance(seconds=1)
    # No worker yet: after the start, one inactive customer comes back and a new one registers.
    make.visit(guests[0], 1_000, clock.now)
    newcomer = make.customer(restaurant, first_name="New")

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    reached = {e["customer"] for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert newcomer["id"] not in reached
    assert reached == {g["id"] for g in guests}
    assert done["stats"] == {"audience": 3, "queued": 0, "sent": 3, "failed": 0, "skipped": 0}
