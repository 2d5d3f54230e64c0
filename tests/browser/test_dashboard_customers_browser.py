"""In headless Chromium against a real `crm serve`: an operator searches every restaurant for a
customer and sees, on their timeline, the message a campaign sent them; at 375 px nothing on the
customer pages is wider than the screen, long names and addresses included."""

from __future__ import annotations

import time

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

LONG_NAME = "Maximilianhieronymusbartholomaeus" * 2  # 66 characters, no space to break at
LONG_EMAIL = "maximilian.hieronymus.bartholomaeus.von.und.zu.lichtenstein@example-trattoria.com"


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS="1")
    try:
        server.start()
        server.add_operator()
        # The customer's restaurant is not the first by name: only a search of all restaurants finds them.
        server.api("POST", "/api/restaurants/", {"name": "A Bistro"})
        rome = server.api("POST", "/api/restaurants/", {"name": "Trattoria Roma", "timezone": "Europe/Rome"})
        body = {"restaurant": rome["id"], "email": LONG_EMAIL, "first_name": LONG_NAME, "last_name": "Lee"}
        server.customer = server.api("POST", "/api/customers/", body)
        server.api("POST", f"/api/customers/{server.customer['id']}/add_visit/", {"spend_cents": 833})
        campaign = server.api(
            "POST",
            "/api/campaigns/",
            {
                "restaurant": rome["id"],
                "name": "Autumn menu",
                "segment_type": "high_spenders",
                "segment_value": 0,
                "message_template": "Hi {first_name}, the autumn menu is here.",
            },
        )
        server.api("POST", f"/api/campaigns/{campaign['id']}/run/")
        deadline = time.monotonic() + 30
        while server.api("GET", f"/api/campaigns/{campaign['id']}/")["status"] != "completed":
            assert time.monotonic() < deadline, "the campaign did not complete"
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


def log_in(page, served: Served) -> None:
    page.goto(f"{served.base}/internal/login/")
    fill_login(page)
    page.wait_for_url(lambda url: "/login/" not in url)


def widest(page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_an_operator_finds_a_customer_in_any_restaurant_and_sees_the_message_they_got(served):
    sync_playwright = require_browser()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            log_in(page, served)
            page.goto(f"{served.base}/internal/customers/")
            # Check the search covers all restaurants unless told otherwise.
            restaurant = page.get_by_label("Restaurant")
            assert restaurant.evaluate("select => select.selectedOptions[0].textContent") == "All restaurants"
            page.get_by_label("Email or name contains").fill("lichtenstein")
            page.get_by_role("button", name="Search").click()
            page.get_by_text("1 customer matching").wait_for()
            assert page.get_by_role("cell", name="Trattoria Roma").is_visible()

            page.get_by_role("link", name=LONG_EMAIL).click()
            page.wait_for_url(f"**/internal/customers/{served.customer['id']}/")
            entries = page.locator("#timeline-title ~ ol > li")
            message = entries.filter(has_text="Message:")
            assert message.count() == 1
            assert " ".join(message.inner_text().split()).startswith("Message: Autumn menu sent, ")
            assert message.inner_text().rstrip().endswith("Europe/Rome")
            assert entries.first.inner_text().startswith("Message:")  # the newest entry
            assert entries.filter(has_text="Visit: $8.33").count() == 1
            # Check the campaign is one click away.
            message.get_by_role("link", name="Autumn menu").click()
            page.wait_for_url("**/internal/campaigns/*-*/")
        finally:
            browser.close()


def test_nothing_is_wider_than_a_375_px_screen_on_the_customer_pages(served):
    sync_playwright = require_browser()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            page.set_default_timeout(15_000)
            log_in(page, served)
            for path in ("/internal/customers/", "/internal/customers/?q=lichtenstein"):
                page.goto(served.base + path)
                assert widest(page) <= 375, path
            page.goto(f"{served.base}/internal/customers/{served.customer['id']}/")
            assert widest(page) <= 375
            # Check the event log and a raw event, opened, fit too.
            page.locator("#event-log > summary").click()
            page.get_by_text("Raw event").first.click()
            assert page.locator(".customer-raw").first.is_visible()
            assert widest(page) <= 375
        finally:
            browser.close()
