"""/api/campaigns/: create, list and read campaigns."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.e2e_support import (
    BODY,
    CAMPAIGN_FIELDS,
    NO_STATS,
    PAGE_FIELDS,
    README_EXAMPLE,
    STALE_HEADER,
    STATS_FIELDS,
    assert_error,
    assert_invalid,
    body_for,
    campaigns,
    ids,
    when,
)

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
            stats={
                "audience": 9,
                "excluded_unsubscribed": 0,
                "excluded_cooldown": 0,
                "queued": 0,
                "sent": 9,
                "failed": 0,
                "skipped": 0,
            },
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
