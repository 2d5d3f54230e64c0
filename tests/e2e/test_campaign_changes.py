"""/api/campaigns/{id}/: replace, patch and delete; only drafts change."""

from __future__ import annotations

import uuid

import pytest

from crm.write_model.segment_rules import shorthand_rule
from tests.e2e.e2e_support import (
    BODY,
    STALE_HEADER,
    assert_conflict_names,
    assert_error,
    assert_invalid,
    bring_to,
    campaigns,
    ids,
)

# -- change and delete --------------------------------------------------------------------


def test_put_replaces_the_settings(admin, make, restaurant):
    campaign = make.campaign(restaurant)

    response = admin.put(f"/api/campaigns/{campaign['id']}/", json=BODY)

    assert response.status_code == 200, response.get_json()
    assert STALE_HEADER not in response.headers
    # Check the shorthand shows as its rule, the new one's
    expected = {**campaign, **BODY, "segment_rule": shorthand_rule(BODY["segment_type"], BODY["segment_value"])}
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
        campaign["segment_rule"] = shorthand_rule(campaign["segment_type"], campaign["segment_value"])
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
        "stats": {
            "audience": 1,
            "excluded_unsubscribed": 0,
            "excluded_cooldown": 0,
            "queued": 0,
            "sent": 1,
            "failed": 0,
            "skipped": 0,
        },
    }

    patched = admin.patch(path, json={**echoed, "name": "Renamed"})
    put = admin.put(path, json={**echoed, **BODY})

    assert (patched.status_code, put.status_code) == (200, 200), (patched.get_json(), put.get_json())
    shown = shorthand_rule(BODY["segment_type"], BODY["segment_value"])
    assert admin.get(path).get_json() == {**campaign, **BODY, "segment_rule": shown}
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
