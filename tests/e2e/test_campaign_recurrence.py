"""Recurring campaigns through HTTP: the schedule body with a recurrence, its 400s naming the key,
`recurrence`, `recurrence_cooldown_days` and `series` in every representation and in the OpenAPI
document, tenancy, and the campaign page's recurrence in words and its occurrences."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import CAMPAIGN_FIELDS, assert_error, assert_invalid, iso, when

MONDAYS = {"every": "week", "at": "09:00", "weekdays": ["mon"]}


def schedule(api, campaign: dict, body) -> object:
    return api.post(f"/api/campaigns/{campaign['id']}/schedule/", json=body)


@pytest.fixture
def paris(make) -> dict:
    return make.restaurant("Chez Paris", timezone="Europe/Paris")


def test_a_weekly_recurrence_is_scheduled_at_its_next_local_time_and_shown_everywhere(admin, make, paris, clock):
    campaign = make.campaign(paris)
    assert (campaign["recurrence"], campaign["recurrence_cooldown_days"], campaign["series"]) == (None, None, None)

    response = schedule(admin, campaign, {"recurrence": {**MONDAYS, "weekdays": ["thu", "mon"]}})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == CAMPAIGN_FIELDS
    assert body["status"] == "scheduled"
    assert body["recurrence"] == {"every": "week", "at": "09:00", "weekdays": ["mon", "thu"]}
    assert body["recurrence_cooldown_days"] == 30
    first = when(body["scheduled_for"]).astimezone(ZoneInfo("Europe/Paris"))
    assert first.strftime("%a") in ("Mon", "Thu") and first.strftime("%H:%M") == "09:00"
    assert clock.now < first <= clock.now + timedelta(days=7)
    # Check the detail and the list say the same
    assert make.get(f"/api/campaigns/{campaign['id']}/") == body
    [listed] = make.get("/api/campaigns/")["results"]
    assert (listed["recurrence"], listed["recurrence_cooldown_days"]) == (body["recurrence"], 30)


def test_a_first_time_with_a_recurrence_and_a_cooldown(admin, make, paris, clock):
    campaign = make.campaign(paris)
    first = clock.now + timedelta(hours=2)
    body = {"scheduled_for": iso(first), "recurrence": {"every": "day", "at": "18:30"}, "recurrence_cooldown_days": 0}
    response = schedule(admin, campaign, body)
    assert response.status_code == 200, response.get_json()
    shown = response.get_json()
    assert when(shown["scheduled_for"]) == first
    assert (shown["recurrence"], shown["recurrence_cooldown_days"]) == (
        {"every": "day", "at": "18:30", "weekdays": []},
        0,
    )
    # Check unschedule ends the series: back to draft, no recurrence
    back = make.control(campaign, "unschedule")
    assert (back["status"], back["scheduled_for"], back["recurrence"], back["recurrence_cooldown_days"]) == (
        "draft",
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"recurrence": {"every": "day", "at": "9:00"}}, "recurrence.at"),
        ({"recurrence": {"every": "day", "at": "24:00"}}, "recurrence.at"),
        ({"recurrence": {"every": "day"}}, "recurrence.at"),
        ({"recurrence": {"every": "month", "at": "09:00"}}, "recurrence.every"),
        ({"recurrence": {"every": "week", "at": "09:00", "weekdays": ["monday"]}}, "recurrence.weekdays"),
        ({"recurrence": {"every": "week", "at": "09:00"}}, "recurrence.weekdays"),
        ({"recurrence": {"every": "week", "at": "09:00", "weekdays": []}}, "recurrence.weekdays"),
        ({"recurrence": {"every": "day", "at": "09:00", "weekdays": ["mon"]}}, "recurrence.weekdays"),
        ({"recurrence": {"every": "day", "at": "09:00", "zone": "UTC"}}, "recurrence.zone"),
        ({"recurrence": "every monday"}, "recurrence"),
        ({"recurrence": None}, "recurrence"),
        ({"recurrence": MONDAYS, "recurrence_cooldown_days": -1}, "recurrence_cooldown_days"),
        ({"recurrence": MONDAYS, "recurrence_cooldown_days": 3651}, "recurrence_cooldown_days"),
        ({"recurrence": MONDAYS, "recurrence_cooldown_days": "30"}, "recurrence_cooldown_days"),
        ({"recurrence_cooldown_days": 7}, "recurrence_cooldown_days"),
        ({}, "scheduled_for"),
    ],
)
def test_a_bad_schedule_body_is_400_naming_the_key_and_changes_nothing(admin, make, paris, body, field):
    campaign = make.campaign(paris)
    assert_invalid(schedule(admin, campaign, body), field)
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


def test_a_recurring_campaign_cannot_be_run_as_one_campaign(admin, make, paris):
    campaign = make.campaign(paris)
    assert schedule(admin, campaign, {"recurrence": MONDAYS}).status_code == 200
    body = assert_error(admin.post(f"/api/campaigns/{campaign['id']}/run/"), 409)
    assert "occurrences" in body["message"]


def test_a_series_page_offers_no_run(admin, make, paris, dash):
    campaign = make.campaign(paris)
    schedule(admin, campaign, {"recurrence": MONDAYS})
    progress = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
    assert progress["recurring"] is True and progress["allowed"] == ["unschedule", "cancel"]
    page = dash.get(f"/internal/campaigns/{campaign['id']}/").get_data(as_text=True)
    assert re.search(r'data-control="run"[^>]*hidden', page), "the Run control is shown on a series"


def test_another_restaurants_key_gets_404_and_changes_nothing(make, paris, key_of):
    campaign = make.campaign(paris)
    stranger = key_of(make.restaurant("Taco Town"))
    assert_error(schedule(stranger, campaign, {"recurrence": MONDAYS}), 404)
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign
    own = key_of(paris)
    assert schedule(own, campaign, {"recurrence": MONDAYS}).get_json()["recurrence"] == MONDAYS


def test_an_occurrence_names_its_series_and_the_pages_link_each_other(admin, make, container, paris, clock, dash):
    campaign = make.campaign(paris)
    schedule(admin, campaign, {"recurrence": MONDAYS})
    series = make.get(f"/api/campaigns/{campaign['id']}/")
    clock.now = when(series["scheduled_for"])
    container.application.start_due_campaign(uuid.UUID(campaign["id"]))
    container.read_side.wait_for(container.runner.head())
    occurrences = [c for c in make.get("/api/campaigns/")["results"] if c["series"] == campaign["id"]]
    [occurrence] = occurrences
    assert occurrence["status"] == "running" and occurrence["recurrence"] is None
    assert occurrence["name"].startswith(campaign["name"] + " · Mon ")
    next_monday = when(make.get(f"/api/campaigns/{campaign['id']}/")["scheduled_for"])
    assert next_monday - clock.now == timedelta(days=7)

    # Check the series' page says the recurrence in words and links its occurrence
    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    assert "Every Monday at 09:00 Europe/Paris" in page
    local_next = next_monday.astimezone(ZoneInfo("Europe/Paris"))
    assert f"next: {local_next.day} {local_next:%b %Y, %H:%M} Europe/Paris" in page
    assert f'href="/internal/campaigns/{occurrence["id"]}/"' in page
    # Check the occurrence's page links back to its series
    page = text_of(dash.get(f"/internal/campaigns/{occurrence['id']}/"))
    assert f'href="/internal/campaigns/{campaign["id"]}/"' in page and "occurrence of" in page


def test_the_openapi_document_states_the_recurrence(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    post = spec["paths"]["/api/campaigns/{campaign_id}/schedule/"]["post"]
    body = schemas[post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]]
    recurrence = body["properties"]["recurrence"]
    assert recurrence["properties"]["every"]["enum"] == ["day", "week"]
    assert recurrence["properties"]["at"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"
    assert recurrence["properties"]["weekdays"]["items"]["enum"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert recurrence["additionalProperties"] is False and recurrence["required"] == ["every", "at"]
    cooldown = body["properties"]["recurrence_cooldown_days"]
    assert (cooldown["minimum"], cooldown["maximum"], cooldown["type"]) == (0, 3650, "integer")
    shown = schemas["Campaign"]["properties"]
    assert shown["recurrence"].get("nullable") is True and shown["recurrence_cooldown_days"].get("nullable") is True
    assert shown["series"]["format"] == "uuid" and "excluded_cooldown" in schemas["CampaignStats"]["properties"]


def test_a_time_is_still_enough(admin, make, paris, clock):
    campaign = make.campaign(paris)
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    at = max(at, clock.now + timedelta(hours=1))
    response = schedule(admin, campaign, {"scheduled_for": iso(at)})
    assert response.status_code == 200 and response.get_json()["recurrence"] is None
