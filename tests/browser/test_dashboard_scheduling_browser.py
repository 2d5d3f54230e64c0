"""Scheduling from a campaign's page in headless Chromium against a real `crm serve` (issue 13):
the local time typed is read in the restaurant's time zone, the page shows the scheduled status
and start and swaps Schedule for Unschedule, passes axe-core at 375 and 1280 px, and sees the
campaign start by itself at its time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser
from tests.browser.test_dashboard_accessibility import FAILING, WIDEST, axe, described

ZONE = "Europe/Paris"
GUESTS = 5


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS="20")
    try:
        server.start()
        server.add_operator()
        server.restaurant = server.api("POST", "/api/restaurants/", {"name": "Chez Paris", "timezone": ZONE})
        for n in range(GUESTS):
            body = {"restaurant": server.restaurant["id"], "email": f"guest{n}@example.com", "first_name": f"G{n}"}
            server.api("POST", "/api/customers/", body)
        yield server
    finally:
        server.stop()


@pytest.fixture
def chromium():
    sync_playwright = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def draft(served: Served) -> dict:
    body = {
        "restaurant": served.restaurant["id"],
        "name": "Sunday brunch",
        "segment_type": "high_spenders",
        "segment_value": 0,
        "message_template": "Hi {first_name}",
    }
    return served.api("POST", "/api/campaigns/", body)


def assert_accessible(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    found = axe(page)
    failing = [v for v in found["violations"] if v["impact"] in FAILING]
    assert not failing, f"the scheduled campaign's page at {width} px:\n{described(failing)}"
    assert page.evaluate(WIDEST) <= width


def test_schedule_from_the_page_then_unschedule_then_see_it_start_at_its_time(served, chromium):
    from playwright.sync_api import expect

    campaign = draft(served)
    path = f"/internal/campaigns/{campaign['id']}/"
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(f"{served.base}/internal/login/?next={path}")
    fill_login(page)
    page.wait_for_url(f"{served.base}{path}")
    status = page.locator('#campaign-progress [data-field="status"]')
    expect(status).to_have_text("draft")

    # Schedule: a local time in Paris, named beside the field.
    start_at = page.get_by_label("Start at")
    expect(start_at).to_be_visible()
    expect(page.locator("#scheduled-for-zone")).to_contain_text(ZONE)
    local = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    start_at.fill(local.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.get_by_text("Campaign scheduled for")).to_be_visible()

    # Check the status, the start in both zones, the controls swapped, and the API's time in UTC
    expect(status).to_have_text("scheduled")
    utc = local.astimezone(timezone.utc)
    expect(page.locator("#scheduled-start")).to_contain_text(f"{local.day} {local:%b %Y, %H:%M} {ZONE}")
    expect(page.locator("#scheduled-start")).to_contain_text(f"{utc:%Y-%m-%d %H:%M}\xa0UTC")
    expect(page.get_by_role("button", name="Unschedule")).to_be_visible()
    expect(start_at).to_be_hidden()
    expect(page.get_by_role("link", name="Edit")).to_be_hidden()
    api = served.api("GET", f"/api/campaigns/{campaign['id']}/")
    assert api["status"] == "scheduled" and datetime.fromisoformat(api["scheduled_for"]) == utc
    for width in (375, 1280):
        assert_accessible(page, width)

    # Unschedule: a draft again, Schedule offered again.
    page.get_by_role("button", name="Unschedule").click()
    expect(page.get_by_text("Campaign unscheduled")).to_be_visible()
    expect(status).to_have_text("draft")
    expect(start_at).to_be_visible()
    assert served.api("GET", f"/api/campaigns/{campaign['id']}/")["scheduled_for"] is None

    # Scheduled a few seconds ahead (the API takes seconds): the open page sees it start and finish.
    soon = datetime.now(timezone.utc) + timedelta(seconds=3)
    served.api("POST", f"/api/campaigns/{campaign['id']}/schedule/", {"scheduled_for": soon.isoformat()})
    page.reload()
    expect(status).to_have_text("scheduled")
    expect(page.locator("#scheduled-start")).to_be_visible()
    expect(status).to_have_text("completed", timeout=20_000)
    expect(page.locator("#scheduled-start")).to_be_hidden()
    expect(page.get_by_role("button", name="Unschedule")).to_be_hidden()
    done = served.api("GET", f"/api/campaigns/{campaign['id']}/")
    assert done["stats"]["sent"] == GUESTS and done["scheduled_for"] is None
    assert datetime.fromisoformat(done["started_at"]) >= soon
    page.close()
