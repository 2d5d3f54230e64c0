"""In headless Chromium against a real `crm serve`: log in, create a campaign, run it, and watch the
progress bar reach 100% with no reload of the page."""

from __future__ import annotations

import pytest

from tests.browser.served import CHROMIUM, Served, require_browser

OPERATOR = ("ops@example.com", "correct horse battery")
CUSTOMERS = 40
LATENCY_MS = 60  # about 2.4 s of sending: the page is loaded while the campaign still runs


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS=str(LATENCY_MS))
    try:
        server.start()
        server.crm("operator", "create", OPERATOR[0], "--password", OPERATOR[1])
        restaurant = server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
        for n in range(CUSTOMERS):
            body = {"restaurant": restaurant["id"], "email": f"guest{n}@example.com", "first_name": f"Guest{n}"}
            server.api("POST", "/api/customers/", body)
        yield server
    finally:
        server.stop()


def test_an_operator_runs_a_campaign_and_watches_it_complete_live(served):
    sync_playwright = require_browser()
    from playwright.sync_api import expect

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            # Check the dashboard asks for a login first.
            page.goto(f"{served.base}/internal/")
            assert page.url.startswith(f"{served.base}/internal/login/")
            page.get_by_label("Email").fill(OPERATOR[0])
            page.get_by_label("Password").fill(OPERATOR[1])
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{served.base}/internal/campaigns/")

            page.get_by_role("link", name="New campaign").first.click()
            page.get_by_label("Name").fill("Browser run")
            page.get_by_label("Segment", exact=True).select_option("high_spenders")
            page.get_by_label("Segment value (N)").fill("0")
            page.get_by_label("Message").fill("Hi {first_name}, see you soon!")
            # Check the live preview counts the audience and renders a message as the form is filled in.
            page.locator('#campaign-preview [data-field="audience-count"]').filter(has_text=str(CUSTOMERS)).wait_for()
            assert "see you soon!" in page.locator("#campaign-preview").inner_text()
            page.get_by_role("button", name="Save draft").click()
            page.wait_for_url("**/internal/campaigns/*-*/")
            assert "Draft campaign created." in page.content()

            page.get_by_role("button", name="Run").click()
            page.get_by_text("Campaign started.").wait_for()
            status = page.locator('#campaign-progress [data-field="status"]')
            assert status.inner_text() == "running", "the campaign finished before its page loaded"
            page.evaluate("window.__marker = 1")

            bar = page.locator('#campaign-progress [data-field="bar"]')
            expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
            # Check the page was updated in place: same document, new values, controls gone.
            assert page.evaluate("window.__marker") == 1
            assert bar.inner_text() == "100%"
            assert status.inner_text() == "completed"
            assert page.locator('#campaign-progress [data-field="sent"]').inner_text() == str(CUSTOMERS)
            assert page.locator("[data-control]").count() == 0
        finally:
            browser.close()
