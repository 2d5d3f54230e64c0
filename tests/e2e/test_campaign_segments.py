"""Campaigns that target a rule of their own or a saved segment: create, change, preview, run."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from crm.write_model.segment_rules import shorthand_rule
from tests.e2e.e2e_support import assert_conflict_names, assert_created, assert_invalid, wait_for_status

REGULARS = {"field": "visit_count", "op": "gte", "value": 2}
MESSAGE = "Hi {first_name}, thank you for coming back!"


def _campaign(api, restaurant: dict, **segment) -> dict:
    body = {"restaurant": restaurant["id"], "name": "Thanks", "message_template": MESSAGE, **segment}
    return assert_created(api.post("/api/campaigns/", json=body))


def _saved(api, restaurant: dict, rule: dict = REGULARS) -> dict:
    body = {"restaurant": restaurant["id"], "name": "Regulars", "rule": rule}
    return assert_created(api.post("/api/segments/", json=body))


def _reached(make, campaign: dict) -> set[str]:
    events = make.get(f"/api/campaigns/{campaign['id']}/events/", query_string={"page_size": 200})
    return {event["customer"] for event in events["results"]}


def test_a_campaign_with_its_own_rule_shows_it_and_no_shorthand(admin, restaurant):
    campaign = _campaign(admin, restaurant, segment_rule={"all": [REGULARS]})
    assert (campaign["segment_type"], campaign["segment_value"]) == ("rule", None)
    assert (campaign["segment_rule"], campaign["segment"]) == ({"all": [REGULARS]}, None)


def test_a_shorthand_campaign_shows_its_segment_as_a_rule(make, restaurant):
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=20_000)
    assert (
        campaign["segment_rule"]
        == shorthand_rule("high_spenders", 20_000)
        == {
            "field": "total_spend_cents",
            "op": "gte",
            "value": 20_000,
        }
    )
    assert campaign["segment"] is None


@pytest.mark.parametrize(
    "segment, named",
    [
        ({"segment_rule": REGULARS, "segment_type": "inactive_days", "segment_value": 3}, "segment_rule"),
        ({"segment_rule": REGULARS, "segment": str(uuid.uuid4())}, "segment"),
        ({}, "segment_type"),
        ({"segment_rule": {"field": "visit_count", "op": "gte", "value": True}}, "segment_rule.value"),
        ({"segment": str(uuid.uuid4())}, "segment"),  # no such segment
    ],
)
def test_a_campaign_names_its_segment_one_valid_way(admin, restaurant, segment, named):
    body = {"restaurant": restaurant["id"], "name": "x", "message_template": MESSAGE, **segment}
    assert_invalid(admin.post("/api/campaigns/", json=body), named)
    assert admin.get("/api/campaigns/").get_json()["count"] == 0


def test_another_restaurants_saved_segment_is_no_such_segment(admin, make, restaurant):
    theirs = _saved(admin, make.restaurant("Theirs"))
    assert_invalid(
        admin.post(
            "/api/campaigns/",
            json={"restaurant": restaurant["id"], "name": "x", "message_template": MESSAGE, "segment": theirs["id"]},
        ),
        "segment",
    )


def test_patching_a_rule_replaces_the_shorthand_and_back(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    path = f"/api/campaigns/{campaign['id']}/"
    ruled = admin.patch(path, json={"segment_rule": REGULARS}).get_json()
    assert (ruled["segment_type"], ruled["segment_value"], ruled["segment_rule"]) == ("rule", None, REGULARS)
    segment = _saved(admin, restaurant)
    saved = admin.patch(path, json={"segment": segment["id"]}).get_json()
    assert (saved["segment_type"], saved["segment"], saved["segment_rule"]) == ("segment", segment["id"], None)
    # Check a shorthand value alone cannot turn a saved segment back into a shorthand.
    assert_invalid(admin.patch(path, json={"segment_value": 30}), "segment_type")
    back = admin.patch(path, json={"segment_type": "inactive_days", "segment_value": 45}).get_json()
    assert (back["segment_type"], back["segment_value"], back["segment"]) == ("inactive_days", 45, None)


def test_a_rule_campaign_reaches_the_rule_at_the_start(admin, make, restaurant, clock, embedded):
    regular, once = make.customer(restaurant, first_name="Regular"), make.customer(restaurant, first_name="Once")
    for _ in range(2):
        make.visit(regular, 1_000, clock.now - timedelta(days=1))
    make.visit(once, 1_000, clock.now - timedelta(days=1))
    unsubscribed = make.customer(restaurant, first_name="Gone")
    for _ in range(2):
        make.visit(unsubscribed, 1_000, clock.now - timedelta(days=1))
    assert admin.post(f"/api/customers/{unsubscribed['id']}/unsubscribe/").status_code == 200
    campaign = _campaign(admin, restaurant, segment_rule=REGULARS)

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")
    assert preview["audience"] == 1 and [s["customer"] for s in preview["samples"]] == [regular["id"]]
    make.control(campaign, "run")
    done = wait_for_status(admin, campaign, "completed")
    assert done["stats"]["audience"] == 1 and done["stats"]["excluded_unsubscribed"] == 1
    assert _reached(make, campaign) == {regular["id"]}


def test_a_saved_segment_campaign_takes_the_segments_rule_as_it_is_at_the_start(
    admin, make, restaurant, clock, start_worker
):
    regular, big = make.customer(restaurant, first_name="Regular"), make.customer(restaurant, first_name="Big")
    for _ in range(2):
        make.visit(regular, 500, clock.now - timedelta(days=1))
    make.visit(big, 90_000, clock.now - timedelta(days=1))
    segment = _saved(admin, restaurant)
    campaign = _campaign(admin, restaurant, segment=segment["id"])
    # Check the preview follows the segment's rule now.
    assert make.get(f"/api/campaigns/{campaign['id']}/preview/")["audience"] == 1
    make.control(campaign, "run")
    # The segment changes after the start, before any worker resolves the audience.
    big_spenders = {"field": "total_spend_cents", "op": "gte", "value": 50_000}
    assert admin.patch(f"/api/segments/{segment['id']}/", json={"rule": big_spenders}).status_code == 200

    start_worker()
    wait_for_status(admin, campaign, "completed")
    assert _reached(make, campaign) == {regular["id"]}
    # Check a campaign run after the change reaches the new rule's members.
    later = _campaign(admin, restaurant, segment=segment["id"])
    make.control(later, "run")
    wait_for_status(admin, later, "completed")
    assert _reached(make, later) == {big["id"]}


def test_a_campaign_whose_saved_segment_was_deleted_cannot_run(admin, make, restaurant):
    segment = _saved(admin, restaurant)
    campaign = _campaign(admin, restaurant, segment=segment["id"])
    assert admin.delete(f"/api/segments/{segment['id']}/").status_code == 204
    assert_conflict_names(admin.post(f"/api/campaigns/{campaign['id']}/run/"), "segment")
    assert admin.get(f"/api/campaigns/{campaign['id']}/").get_json()["status"] == "draft"
