"""A restaurant's quiet hours through the API (both or neither, HH:MM, different, null by
default, each restaurant its own), the contract stating them, and the campaign page of a running
campaign that waits for its restaurant's sending hours."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import assert_invalid, queue_outreach
from tests.e2e.test_docs_contract import body_schema, outcome, valid

BOTH_NAMED = ("quiet_hours_start", "quiet_hours_end")


def test_quiet_hours_are_null_by_default_set_together_changed_and_cleared(admin, make, restaurant):
    path = f"/api/restaurants/{restaurant['id']}/"
    assert (restaurant["quiet_hours_start"], restaurant["quiet_hours_end"]) == (None, None)

    changed = admin.patch(path, json={"quiet_hours_start": "22:00", "quiet_hours_end": "08:00"})

    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["quiet_hours_start"], changed.get_json()["quiet_hours_end"]) == ("22:00", "08:00")
    assert make.get(path)["quiet_hours_end"] == "08:00"
    # Check a change of other fields (PUT or PATCH) keeps them.
    assert admin.put(path, json={"name": "Renamed"}).get_json()["quiet_hours_start"] == "22:00"
    assert (
        admin.patch(path, json={"frequency_cap_messages": 1, "frequency_cap_days": 7}).get_json()["quiet_hours_end"]
        == "08:00"
    )
    # Check both null clears them.
    cleared = admin.patch(path, json={"quiet_hours_start": None, "quiet_hours_end": None})
    assert (cleared.get_json()["quiet_hours_start"], cleared.get_json()["quiet_hours_end"]) == (None, None)
    created = make.restaurant("Night Owl", "Europe/Paris", quiet_hours_start="23:30", quiet_hours_end="07:15")
    assert (created["quiet_hours_start"], created["quiet_hours_end"], created["timezone"]) == (
        "23:30",
        "07:15",
        "Europe/Paris",
    )


def test_quiet_hours_out_of_rule_are_refused_naming_the_fields(admin, restaurant):
    path = f"/api/restaurants/{restaurant['id']}/"
    assert_invalid(admin.patch(path, json={"quiet_hours_start": "22:00"}), *BOTH_NAMED)
    assert_invalid(admin.patch(path, json={"quiet_hours_start": "22:00", "quiet_hours_end": None}), *BOTH_NAMED)
    equal = assert_invalid(admin.patch(path, json={"quiet_hours_start": "09:00", "quiet_hours_end": "09:00"}))
    assert equal["errors"] == {"quiet_hours_end": ["must differ from quiet_hours_start"]}
    for bad in ("24:00", "9:00", "09:60", "09:00:00", "0900", "", 900, "09:00\n"):
        assert_invalid(
            admin.patch(path, json={"quiet_hours_start": bad, "quiet_hours_end": "10:00"}), "quiet_hours_start"
        )
    assert_invalid(admin.post("/api/restaurants/", json={"name": "X", "quiet_hours_end": "08:00"}), *BOTH_NAMED)
    # Check nothing was recorded by any of these.
    assert admin.get(path).get_json()["quiet_hours_start"] is None


def test_each_restaurant_sets_only_its_own_quiet_hours(admin, make, key_of, restaurant):
    other = make.restaurant("Elsewhere")
    own_key, other_key = key_of(restaurant, "own"), key_of(other, "other")
    body = {"quiet_hours_start": "21:00", "quiet_hours_end": "09:00"}

    assert own_key.patch(f"/api/restaurants/{restaurant['id']}/", json=body).status_code == 200
    assert (
        other_key.patch(f"/api/restaurants/{restaurant['id']}/", json={**body, "quiet_hours_end": "10:00"}).status_code
        == 404
    )

    assert admin.get(f"/api/restaurants/{restaurant['id']}/").get_json()["quiet_hours_end"] == "09:00"
    assert admin.get(f"/api/restaurants/{other['id']}/").get_json()["quiet_hours_start"] is None


QUIET_CASES = [
    {},
    {"quiet_hours_start": None, "quiet_hours_end": None},
    {"quiet_hours_start": None},
    {"quiet_hours_start": "22:00", "quiet_hours_end": "08:00"},
    {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59"},
    {"quiet_hours_start": "22:00"},
    {"quiet_hours_end": "08:00"},
    {"quiet_hours_start": "22:00", "quiet_hours_end": None},
    {"quiet_hours_start": "24:00", "quiet_hours_end": "08:00"},
    {"quiet_hours_start": "7:00", "quiet_hours_end": "08:00"},
    {"quiet_hours_start": "22:00", "quiet_hours_end": 800},
]


def with_null(schema):
    """OpenAPI 3.0's `nullable` as JSON Schema states it (a type that includes null), as
    schemathesis reads it."""
    if isinstance(schema, list):
        return [with_null(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: with_null(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def test_quiet_hours_are_accepted_exactly_as_documented(admin, client, restaurant):
    spec = client.get("/api/openapi.json").get_json()
    create = with_null(body_schema(spec, "/api/restaurants/", "post"))
    patch = with_null(body_schema(spec, "/api/restaurants/{restaurant_id}/", "patch"))
    path = f"/api/restaurants/{restaurant['id']}/"

    answers, documented = {}, {}
    for body in QUIET_CASES:
        for method, schema in (("POST", create), ("PATCH", patch)):
            case = f"{method} {json.dumps(body)}"
            sent = {"name": "Quiet", **body} if method == "POST" else body
            response = admin.post("/api/restaurants/", json=sent) if method == "POST" else admin.patch(path, json=sent)
            answers[case] = outcome(response)
            documented[case] = "accepted" if valid(schema, sent) else "refused"

    assert answers == documented
    assert answers['PATCH {"quiet_hours_start": null}'] == "refused"  # together, even to clear
    assert answers['POST {"quiet_hours_start": null}'] == "accepted"  # left out on a create: none
    assert patch["properties"]["quiet_hours_start"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"


def test_a_running_campaign_in_quiet_hours_says_until_when_it_waits(dash, admin, make, container, clock):
    restaurant = make.restaurant("Chez Nous", "Europe/Paris")
    guests = [make.customer(restaurant) for _ in range(3)]
    clock.advance(days=31)
    local = clock.now.astimezone(ZoneInfo("Europe/Paris"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    path = f"/api/restaurants/{restaurant['id']}/"
    assert admin.patch(path, json={"quiet_hours_start": start, "quiet_hours_end": end}).status_code == 200
    campaign = make.campaign(restaurant)
    queue_outreach(make, container, campaign, guests)
    page, progress = f"/internal/campaigns/{campaign['id']}/", f"/internal/campaigns/{campaign['id']}/progress.json"

    waiting = dash.get(progress).get_json()["waiting"]

    message = f"Waiting for sending hours until {end} Europe/Paris"
    assert waiting["text"] == message and (waiting["local"], waiting["timezone"]) == (end, "Europe/Paris")
    assert waiting["until"].startswith(end_utc := _utc_minute(local + timedelta(hours=1))), (waiting, end_utc)
    assert message in text_of(dash.get(page))
    # Check once the window ends (the clock past its end) the page no longer says it waits.
    clock.advance(hours=1, minutes=1)
    assert dash.get(progress).get_json()["waiting"] is None
    shown = text_of(dash.get(page))
    assert "Waiting for sending hours" not in shown and 'data-field="waiting" hidden' in shown
    # Check a paused campaign does not wait, whatever the hour.
    clock.advance(hours=-1, minutes=-1)
    make.control(campaign, "pause")
    assert dash.get(progress).get_json()["waiting"] is None


def _utc_minute(moment) -> str:
    """The ISO form of `moment` in UTC, to the minute (the window ends on a whole minute)."""
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M")
