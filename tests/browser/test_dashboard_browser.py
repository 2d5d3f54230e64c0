"""In headless Chromium against a real `crm serve`: log in, create a campaign, run it, and watch the
progress bar reach 100% with no reload of the page."""

from __future__ import annotations

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

CUSTOMERS = 40
LATENCY_MS = 60  # about 2.4 s of sending: the page is loaded while the campaign still runs


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS=str(LATENCY_MS))
    try:
        server.start()
        server.add_operator()
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
            fill_login(page)
            page.wait_for_url(f"{served.base}/internal/")  # back where it came from: the home page

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
            # Check Run asks first, with the audience that matches now.
            question = page.get_by_role("dialog", name=f"Send to {CUSTOMERS} customers now?")
            question.get_by_role("button", name="Send now").click()
            page.get_by_text("Campaign started.").wait_for()
            status = page.locator('#campaign-progress [data-field="status"]')
            assert status.inner_text() == "running", "the campaign finished before its page loaded"
            page.evaluate("window.__marker = 1")

            # The last recipient's record lands a moment before the campaign's completion, so a
            # poll in between shows 100% still running: wait for the status, then read the rest.
            expect(status).to_have_text("completed", timeout=60_000)
            # Check the page was updated in place: same document, new values, controls gone.
            assert page.evaluate("window.__marker") == 1
            bar = page.locator('#campaign-progress [data-field="bar"]')
            assert bar.get_attribute("aria-valuenow") == "100"
            assert bar.inner_text() == "100%"
            assert page.locator('#campaign-progress [data-field="sent"]').inner_text() == str(CUSTOMERS)
            assert page.locator("[data-control]:visible").count() == 0
        finally:
            browser.close()


@pytest.fixture
def served_slowly(tmp_path):
    """40 customers at 300 ms a message: a campaign runs about 12 s, long enough to be steered."""
    server = Served(tmp_path, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS="300")
    try:
        server.start()
        server.add_operator()
        restaurant = server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
        for n in range(CUSTOMERS):
            body = {"restaurant": restaurant["id"], "email": f"guest{n}@example.com", "first_name": f"Guest{n}"}
            server.api("POST", "/api/customers/", body)
        server.restaurant = restaurant
        yield server
    finally:
        server.stop()


def test_the_controls_follow_a_change_made_elsewhere_without_a_reload(served_slowly):
    """Another operator (here the API) runs, pauses, resumes and cancels the campaign an open page
    shows: the page offers exactly the controls the new status allows, each time, in place."""
    sync_playwright = require_browser()
    from playwright.sync_api import expect

    served = served_slowly
    body = {
        "restaurant": served.restaurant["id"],
        "name": "Steered elsewhere",
        "segment_type": "high_spenders",
        "segment_value": 0,
        "message_template": "Hi {first_name}",
    }
    campaign = served.api("POST", "/api/campaigns/", body)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{served.base}/internal/login/")
            fill_login(page)
            page.wait_for_url(f"{served.base}/internal/campaigns/")
            page.goto(f"{served.base}/internal/campaigns/{campaign['id']}/")
            page.evaluate("window.__marker = 1")
            shown = page.locator("#campaign-progress [data-control]:visible")

            def expect_controls(*names: str) -> None:
                expected = list(names)
                expect(shown).to_have_count(len(expected), timeout=12_000)
                assert sorted(shown.evaluate_all("els => els.map(e => e.dataset.control)")) == sorted(expected)

            status = page.locator('#campaign-progress [data-field="status"]')
            expect_controls("edit", "run", "schedule", "cancel")
            for action, after, controls in (
                ("run", "running", ("pause", "cancel")),
                ("pause", "paused", ("resume", "cancel")),
            ):
                served.api("POST", f"/api/campaigns/{campaign['id']}/{action}/")
                expect(status).to_have_text(after, timeout=12_000)
                expect_controls(*controls)
            assert page.evaluate("window.__marker") == 1  # updated in place, never reloaded

            # A control the page showed again works.
            page.get_by_role("button", name="Resume").click()
            page.get_by_text("Campaign resumed.").wait_for()
            expect_controls("pause", "cancel")
            page.evaluate("window.__marker = 2")
            served.api("POST", f"/api/campaigns/{campaign['id']}/cancel/")
            expect(status).to_have_text("cancelled", timeout=12_000)
            expect_controls()
            assert page.evaluate("window.__marker") == 2
        finally:
            browser.close()
