"""In headless Chromium against a real `crm serve`: the home page's numbers are the API's.

Two restaurants; a campaign that completes with deterministic failures at one, a longer one still
running at the other while the page is read; then every figure again once both are done, per
restaurant and in total, at 1280 and at 375 px (where nothing may be wider than the screen).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

PIZZA_GUESTS = 12
SUSHI_GUESTS = 50
LATENCY_MS = 150  # the sushi bar's 50 messages take 7.5 s: long enough to read the page meanwhile
FIGURES = ("customers", "active", "sent", "failure-rate", "running")


@pytest.fixture
def served(tmp_path):
    # A message fails when its id's draw is below 0.5 (DELIVERY_MAX_ATTEMPTS=1: no second try).
    server = Served(
        tmp_path,
        DELIVERY_BACKEND="simulated",
        SIMULATED_LATENCY_MS=str(LATENCY_MS),
        SIMULATED_FAILURE_RATE="0.5",
        DELIVERY_MAX_ATTEMPTS="1",
    )
    try:
        server.start()
        server.add_operator()
        yield server
    finally:
        server.stop()


def seed(served: Served) -> dict:
    """Pizza Palace: 12 customers, 4 of them last seen 40 days ago, 1 deleted; Sushi Bar: 50."""
    long_ago = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat()
    pizza = served.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
    sushi = served.api("POST", "/api/restaurants/", {"name": "Sushi Bar", "timezone": "Asia/Tokyo"})
    guests = []
    for n in range(PIZZA_GUESTS):
        guest = served.api("POST", "/api/customers/", {"restaurant": pizza["id"], "email": f"pizza{n}@example.com"})
        visit = {"spend_cents": 1000 + n, **({"visited_at": long_ago} if n < 4 else {})}
        served.api("POST", f"/api/customers/{guest['id']}/add_visit/", visit)
        guests.append(guest)
    served.api("DELETE", f"/api/customers/{guests[-1]['id']}/")
    for n in range(SUSHI_GUESTS):
        served.api("POST", "/api/customers/", {"restaurant": sushi["id"], "email": f"sushi{n}@example.com"})
    return {"pizza": pizza, "sushi": sushi}


def start_campaign(served: Served, restaurant: dict, name: str) -> dict:
    body = {"restaurant": restaurant["id"], "name": name, "segment_type": "high_spenders", "segment_value": 0}
    campaign = served.api("POST", "/api/campaigns/", {**body, "message_template": "Hi, see you soon!"})
    return served.api("POST", f"/api/campaigns/{campaign['id']}/run/")


def wait_until(served: Served, campaign: dict, status: str) -> dict:
    deadline = time.monotonic() + 60
    while (current := served.api("GET", f"/api/campaigns/{campaign['id']}/"))["status"] != status:
        assert time.monotonic() < deadline, current
        time.sleep(0.2)
    return current


def api_figures(served: Served, restaurant: dict | None = None) -> dict[str, str]:
    """The home page's figures as the API gives them (every message here was queued this week)."""
    where = f"restaurant_id={restaurant['id']}&" if restaurant else ""
    customers = served.api("GET", f"/api/customers/?{where}page_size=1")["count"]
    inactive = served.api("GET", f"/api/customers/inactive/?{where}days=30&page_size=1")["count"]
    campaigns = served.api("GET", f"/api/campaigns/?{where}page_size=100")["results"]
    sent = sum(c["stats"]["sent"] for c in campaigns)
    failed = sum(c["stats"]["failed"] for c in campaigns)
    return {
        "customers": str(customers),
        "active": str(customers - inactive),
        "sent": str(sent),
        "failure-rate": f"{100 * failed / (sent + failed):.1f}%" if sent + failed else "—",
        "running": str(sum(c["status"] == "running" for c in campaigns)),
    }


def page_figures(page, scope: str = "#figures") -> dict[str, str]:
    return {name: page.locator(f'{scope} [data-figure="{name}"]').inner_text() for name in FIGURES}


def widest(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_home_page_shows_the_apis_numbers(served):
    sync_playwright = require_browser()
    restaurants = seed(served)
    pizza, sushi = restaurants["pizza"], restaurants["sushi"]
    wait_until(served, start_campaign(served, pizza, "Pizza thanks"), "completed")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            # Check a login from /internal/ comes back to the home page.
            page.goto(f"{served.base}/internal/")
            fill_login(page)
            page.wait_for_url(f"{served.base}/internal/")
            assert page.get_by_role("link", name="Home").get_attribute("aria-current") == "page"

            # Check the running campaign is counted and listed while it runs.
            running = start_campaign(served, sushi, "Sushi welcome")
            page.reload()
            shown, listed = page_figures(page)["running"], page.locator("#running-campaigns tbody tr").all_inner_texts()
            in_api = [c["name"] for c in served.api("GET", "/api/campaigns/")["results"] if c["status"] == "running"]
            assert in_api == ["Sushi welcome"], "the campaign finished before the page was read: raise LATENCY_MS"
            assert shown == "1" and len(listed) == 1 and "Sushi welcome" in listed[0]

            # Check every figure against the API once nothing is sending.
            wait_until(served, running, "completed")
            page.reload()
            total = api_figures(served)
            failed = served.api("GET", "/api/outreach-events/?status=failed&page_size=1")["count"]
            assert 0 < failed < PIZZA_GUESTS - 1 + SUSHI_GUESTS, "both sent and failed messages, to count both"
            assert total["running"] == "0" and total["customers"] == str(PIZZA_GUESTS - 1 + SUSHI_GUESTS)
            assert page_figures(page) == total
            assert page_figures(page, '#by-restaurant [data-restaurant="total"]') == total
            for restaurant in (pizza, sushi):
                row = f'#by-restaurant [data-restaurant="{restaurant["id"]}"]'
                assert page_figures(page, row) == api_figures(served, restaurant), restaurant["name"]
            # Check the day-by-day table adds up to the API's counts.
            for series, expected in (("sent", int(total["sent"])), ("failed", failed)):
                cells = page.locator(f'#messages-by-day [data-series="{series}"]').all_text_contents()
                assert len(cells) == 30 and sum(int(c) for c in cells) == expected, series
            assert "UTC days" in page.locator("#overview-note").inner_text()

            # Check choosing a restaurant, without a script: its figures, its time zone's days.
            page.get_by_label("Restaurant", exact=True).select_option(label="Sushi Bar")
            page.get_by_role("button", name="Show").click()
            page.wait_for_url(f"{served.base}/internal/?restaurant={sushi['id']}")
            assert page_figures(page) == api_figures(served, sushi)
            assert "days in Asia/Tokyo" in page.locator("#overview-note").inner_text()
            assert widest(page) == 1280

            # Check the charts and tables fit a phone's screen.
            for path in ("/internal/", f"/internal/?restaurant={pizza['id']}"):
                small = browser.new_page(
                    viewport={"width": 375, "height": 812}, storage_state=page.context.storage_state()
                )
                small.goto(served.base + path)
                assert small.locator("svg.chart").count() == 3
                assert widest(small) == 375, path
                small.close()
        finally:
            browser.close()
