"""Scheduling through HTTP: POST schedule/ and unschedule/, their 400s, 404s and 409s, the
`scheduled_for` of every campaign representation, the OpenAPI document, and the dashboard's
Schedule and Unschedule controls (a local time read in the restaurant's time zone)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import (
    CAMPAIGN_FIELDS,
    assert_conflict_names,
    assert_error,
    assert_invalid,
    bring_to,
    iso,
    when,
)


def schedule(api, campaign: dict, body) -> object:
    return api.post(f"/api/campaigns/{campaign['id']}/schedule/", json=body)


def controls(page: str) -> set[str]:
    """The controls shown (those the status does not allow are on the page, hidden)."""
    return set(re.findall(r'data-control="([\w-]+)"(?! hidden)', page))


# -- the API ------------------------------------------------------------------------------


def test_schedule_a_draft_shows_the_time_in_utc_everywhere(admin, make, restaurant, clock):
    campaign = make.campaign(restaurant)
    assert campaign["scheduled_for"] is None
    paris = (clock.now + timedelta(days=2)).astimezone(ZoneInfo("Europe/Paris"))

    response = schedule(admin, campaign, {"scheduled_for": paris.isoformat()})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == CAMPAIGN_FIELDS
    assert body == {**campaign, "status": "scheduled", "scheduled_for": body["scheduled_for"]}
    assert body["scheduled_for"].endswith("Z") or body["scheduled_for"].endswith("+00:00")
    assert when(body["scheduled_for"]) == paris
    # Check the detail and the list say the same
    assert make.get(f"/api/campaigns/{campaign['id']}/") == body
    [listed] = make.get("/api/campaigns/")["results"]
    assert listed["scheduled_for"] == body["scheduled_for"]


def test_unschedule_returns_it_to_draft_without_a_time(make, restaurant, clock):
    campaign = make.campaign(restaurant)
    make.schedule(campaign, clock.now + timedelta(hours=3))

    back = make.control(campaign, "unschedule")

    assert (back["status"], back["scheduled_for"]) == ("draft", None)
    assert back == {**campaign, "scheduled_for": None}


def test_run_a_scheduled_campaign_starts_it_now(make, restaurant, clock):
    campaign = make.campaign(restaurant)
    make.schedule(campaign, clock.now + timedelta(hours=3))
    clock.advance(minutes=1)

    started = make.control(campaign, "run")

    assert (started["status"], started["scheduled_for"]) == ("running", None)
    assert when(started["started_at"]) == clock.now


@pytest.mark.parametrize(
    "scheduled_for",
    ["2031-01-31T09:00:00", "2031-01-31", "tomorrow at nine", 12, None],
    ids=["naive", "a date", "words", "a number", "null"],
)
def test_a_time_that_is_not_a_moment_is_400_naming_the_field(admin, make, restaurant, scheduled_for):
    campaign = make.campaign(restaurant)
    assert_invalid(schedule(admin, campaign, {"scheduled_for": scheduled_for}), "scheduled_for")
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


def test_a_naive_time_is_refused_for_its_missing_offset(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    body = assert_invalid(schedule(admin, campaign, {"scheduled_for": "2031-01-31T09:00:00"}), "scheduled_for")
    assert "offset" in body["errors"]["scheduled_for"][0]


@pytest.mark.parametrize(
    "ahead, message",
    [
        (timedelta(minutes=-1), "must be in the future"),
        (timedelta(0), "must be in the future"),
        (timedelta(days=365, seconds=1), "at most 365 days ahead"),
    ],
    ids=["past", "now", "beyond a year"],
)
def test_a_time_it_cannot_keep_is_400_naming_the_field(admin, make, restaurant, clock, ahead, message):
    campaign = make.campaign(restaurant)
    body = assert_invalid(schedule(admin, campaign, {"scheduled_for": iso(clock.now + ahead)}), "scheduled_for")
    assert message in body["errors"]["scheduled_for"][0]
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


def test_a_body_without_the_time_or_with_other_fields_is_400(admin, make, restaurant, clock):
    campaign = make.campaign(restaurant)
    assert_invalid(schedule(admin, campaign, {}), "scheduled_for")
    later = iso(clock.now + timedelta(hours=1))
    assert_invalid(schedule(admin, campaign, {"scheduled_for": later, "status": "running"}), "status")
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


@pytest.mark.parametrize("status", ["scheduled", "running", "paused", "cancelled", "completed"])
def test_schedule_outside_draft_is_409_naming_the_status(admin, make, container, restaurant, clock, status):
    campaign = bring_to(make, container, make.campaign(restaurant), status)
    response = schedule(admin, campaign, {"scheduled_for": iso(clock.now + timedelta(hours=5))})
    assert_conflict_names(response, status)
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


@pytest.mark.parametrize("status", ["draft", "running", "paused", "cancelled", "completed"])
def test_unschedule_of_a_campaign_not_scheduled_is_409(admin, make, container, restaurant, status):
    campaign = bring_to(make, container, make.campaign(restaurant), status)
    assert_conflict_names(admin.post(f"/api/campaigns/{campaign['id']}/unschedule/"), status)


def test_a_scheduled_campaign_cannot_be_edited_or_deleted(admin, make, container, restaurant):
    campaign = bring_to(make, container, make.campaign(restaurant), "scheduled")
    path = f"/api/campaigns/{campaign['id']}/"
    assert_conflict_names(admin.patch(path, json={"name": "Renamed"}), "scheduled")
    assert_conflict_names(admin.delete(path), "scheduled")
    assert make.get(path) == campaign


def test_another_restaurants_key_gets_404_and_changes_nothing(make, restaurant, key_of, clock):
    campaign = make.campaign(restaurant)
    stranger = key_of(make.restaurant("Taco Town"))
    later = {"scheduled_for": iso(clock.now + timedelta(hours=1))}

    assert_error(schedule(stranger, campaign, later), 404)
    make.schedule(campaign, clock.now + timedelta(hours=1))
    assert_error(stranger.post(f"/api/campaigns/{campaign['id']}/unschedule/"), 404)

    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "scheduled"
    own = key_of(restaurant)
    assert make.control(campaign, "unschedule", api=own)["status"] == "draft"


def test_an_unknown_campaign_is_404(admin, clock):
    assert_error(schedule(admin, {"id": uuid.uuid4()}, {"scheduled_for": iso(clock.now + timedelta(hours=1))}), 404)
    assert_error(admin.post(f"/api/campaigns/{uuid.uuid4()}/unschedule/"), 404)


def test_the_openapi_document_states_the_field_and_the_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    campaign = spec["components"]["schemas"]["Campaign"]["properties"]["scheduled_for"]
    assert campaign["format"] == "date-time" and campaign.get("nullable") is True
    assert "scheduled" in spec["components"]["schemas"]["Campaign"]["properties"]["status"]["enum"]
    post = spec["paths"]["/api/campaigns/{campaign_id}/schedule/"]["post"]
    assert {"200", "400", "404", "409"} <= set(post["responses"])
    body = post["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert "required" not in schema  # a time, a recurrence, or both (docs/api.md)
    assert {"required": ["scheduled_for"]} in [{"required": r["required"]} for r in schema["anyOf"]]
    assert schema["properties"]["scheduled_for"]["format"] == "date-time"
    unschedule = spec["paths"]["/api/campaigns/{campaign_id}/unschedule/"]["post"]
    assert {"200", "404", "409"} <= set(unschedule["responses"])


# -- the dashboard --------------------------------------------------------------------------


@pytest.fixture
def paris(make) -> dict:
    return make.restaurant("Chez Paris", timezone="Europe/Paris")


def test_a_draft_page_offers_schedule_in_the_restaurants_time_zone(dash, make, paris):
    campaign = make.campaign(paris)
    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))

    assert {"schedule", "run", "cancel", "edit"} <= controls(page) and "unschedule" not in controls(page)
    start = page.index('data-control="schedule"')
    form = page[start - 200 : page.index("</form>", start)]
    assert f'action="/internal/campaigns/{campaign["id"]}/schedule/"' in form
    assert 'name="csrf_token"' in form
    assert '<label class="col-form-label" for="scheduled-for">Start at</label>' in form
    assert 'type="datetime-local" id="scheduled-for" name="scheduled_for" required' in form
    assert 'aria-describedby="scheduled-for-zone"' in form and "Europe/Paris time" in form


def test_schedule_from_the_dashboard_reads_the_local_time_in_the_restaurants_zone(dash, make, container, paris, clock):
    campaign = make.campaign(paris)
    local = (clock.now + timedelta(days=3)).astimezone(ZoneInfo("Europe/Paris")).replace(second=0, tzinfo=None)

    response = dash.post(
        f"/internal/campaigns/{campaign['id']}/schedule/",
        data={"scheduled_for": local.strftime("%Y-%m-%dT%H:%M")},
        follow_redirects=True,
    )

    expected = local.replace(tzinfo=ZoneInfo("Europe/Paris")).astimezone(timezone.utc)
    page = text_of(response)
    assert response.request.path == f"/internal/campaigns/{campaign['id']}/"
    assert "Campaign scheduled for" in page
    shown = make.get(f"/api/campaigns/{campaign['id']}/")
    assert shown["status"] == "scheduled" and when(shown["scheduled_for"]) == expected
    # Check the page shows the time in the restaurant's zone and in UTC, and the controls now allowed
    assert f"{local.day} {local:%b %Y, %H:%M} Europe/Paris" in page
    assert f"{expected:%Y-%m-%d %H:%M}\xa0UTC" in page
    assert '<span class="badge text-bg-info" data-field="status">scheduled</span>' in page
    assert controls(page) >= {"run", "unschedule", "cancel"}
    assert "schedule" not in controls(page) and "edit" not in controls(page)
    # Check the recorded actor is the operator
    events = list(container.application.events.get(uuid.UUID(campaign["id"])))
    assert events[-1].actor.startswith("operator:")


def test_the_list_shows_a_scheduled_campaigns_start(dash, make, paris, clock):
    campaign = make.campaign(paris, name="Brunch")
    at = clock.now.replace(microsecond=0) + timedelta(days=1)
    make.schedule(campaign, at)
    page = text_of(dash.get("/internal/campaigns/?status=scheduled"))
    assert "Brunch" in page and "starts" in page
    local = at.astimezone(ZoneInfo("Europe/Paris"))
    assert f"{local.day} {local:%b %Y, %H:%M} Europe/Paris" in page and f"{at:%Y-%m-%d %H:%M}\xa0UTC" in page
    assert f'data-progress-url="/internal/campaigns/{campaign["id"]}/progress.json"' in page


@pytest.mark.parametrize(
    "typed, flashed",
    [
        ("2020-01-01T09:00", "Not scheduled: the start must be in the future."),
        ("", "Not scheduled: enter a date and time"),
        ("next tuesday", "Not scheduled: enter a date and time"),
    ],
)
def test_a_time_refused_from_the_dashboard_is_flashed_and_changes_nothing(dash, make, paris, typed, flashed):
    campaign = make.campaign(paris)
    response = dash.post(
        f"/internal/campaigns/{campaign['id']}/schedule/", data={"scheduled_for": typed}, follow_redirects=True
    )
    assert flashed in text_of(response)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "draft"


def test_a_local_time_the_clocks_skip_is_refused(dash, make, paris, clock):
    campaign = make.campaign(paris)
    # 02:30 on the last Sunday of March does not exist in Paris (02:00 -> 03:00): the next one.
    sundays = [
        max(datetime(year, 3, day) for day in range(25, 32) if datetime(year, 3, day).weekday() == 6)
        for year in (clock.now.year, clock.now.year + 1)
    ]
    sunday = next(day for day in sundays if day.replace(hour=1, tzinfo=timezone.utc) > clock.now)
    typed = f"{sunday:%Y-%m-%d}T02:30"
    response = dash.post(
        f"/internal/campaigns/{campaign['id']}/schedule/", data={"scheduled_for": typed}, follow_redirects=True
    )
    page = text_of(response)
    assert f"Not scheduled: {sunday:%Y-%m-%d} 02:30 does not exist in Europe/Paris: the clocks skip it." in page
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "draft"


def test_schedule_without_the_csrf_token_is_refused(dash, make, paris, clock):
    campaign = make.campaign(paris)
    response = dash.post(
        f"/internal/campaigns/{campaign['id']}/schedule/", data={"scheduled_for": "2031-01-01T09:00"}, csrf=False
    )
    assert response.status_code == 400 and "security token" in text_of(response)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "draft"


def test_schedule_of_an_unknown_campaign_is_404_and_a_get_is_405(dash, make, paris):
    assert dash.post(f"/internal/campaigns/{uuid.uuid4()}/schedule/", data={"scheduled_for": "x"}).status_code == 404
    campaign = make.campaign(paris)
    assert dash.get(f"/internal/campaigns/{campaign['id']}/schedule/").status_code == 405


def test_schedule_of_a_running_campaign_from_the_dashboard_is_flashed(dash, make, container, paris, clock):
    campaign = bring_to(make, container, make.campaign(paris), "running")
    local = (clock.now + timedelta(days=1)).astimezone(ZoneInfo("Europe/Paris"))
    response = dash.post(
        f"/internal/campaigns/{campaign['id']}/schedule/",
        data={"scheduled_for": local.strftime("%Y-%m-%dT%H:%M")},
        follow_redirects=True,
    )
    assert "Not scheduled: cannot schedule a campaign that is running." in text_of(response)


def test_the_progress_json_allows_schedule_for_a_draft_and_unschedule_when_scheduled(dash, make, paris, clock):
    campaign = make.campaign(paris)
    progress = f"/internal/campaigns/{campaign['id']}/progress.json"
    assert dash.get(progress).get_json()["allowed"] == ["edit", "delete", "run", "schedule", "cancel"]
    make.schedule(campaign, clock.now + timedelta(hours=2))
    scheduled = dash.get(progress).get_json()
    assert scheduled["status"] == "scheduled" and scheduled["allowed"] == ["run", "unschedule", "cancel"]
    assert scheduled["final"] is False  # polled every second: the page sees the start
    # Check Unschedule from the dashboard, recorded and flashed
    response = dash.post(f"/internal/campaigns/{campaign['id']}/unschedule/", follow_redirects=True)
    assert "Campaign unscheduled: it is a draft again" in text_of(response)
    assert dash.get(progress).get_json()["status"] == "draft"
