"""Campaign pages in headless Chromium against a real `crm serve` (issue 12, findings 1 to 4):
a session that ends under a live page, two tabs on one campaign, Run's question (dialog, keyboard,
no JavaScript), and long names at 375 px."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

CUSTOMERS = 40
SIGNED_OUT = "Signed out: live updates stopped, nothing was changed"
SPACELESS = "Winback" * 28  # 196 characters without a space
LONG = "Autumn tasting menu for our most loyal regulars, 2026 x"  # 55 characters
WIDTHS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def serve(directory, latency_ms: int) -> Served:
    """A server with CUSTOMERS customers of one restaurant, all high spenders of at least $0."""
    server = Served(directory, DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS=str(latency_ms))
    server.start()
    server.add_operator()
    server.restaurant = server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
    for n in range(CUSTOMERS):
        body = {"restaurant": server.restaurant["id"], "email": f"guest{n}@example.com", "first_name": f"Guest{n}"}
        server.api("POST", "/api/customers/", body)
    return server


@pytest.fixture
def served_slowly(tmp_path):
    """40 messages at 300 ms each: a campaign runs about 12 s, long enough to be steered."""
    server = None
    try:
        server = serve(tmp_path, 300)
        yield server
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def served(tmp_path):
    server = None
    try:
        server = serve(tmp_path, 20)
        yield server
    finally:
        if server is not None:
            server.stop()


def draft(served: Served, name: str = "Everyone") -> dict:
    body = {
        "restaurant": served.restaurant["id"],
        "name": name,
        "segment_type": "high_spenders",
        "segment_value": 0,
        "message_template": "Hi {first_name}",
    }
    return served.api("POST", "/api/campaigns/", body)


def status_of(served: Served, campaign: dict) -> str:
    return served.api("GET", f"/api/campaigns/{campaign['id']}/")["status"]


def log_in(page, served: Served, then: str = "/internal/campaigns/") -> None:
    page.goto(f"{served.base}/internal/login/?next={then}")
    fill_login(page)
    page.wait_for_url(f"{served.base}{then}")


@pytest.fixture
def chromium():
    sync_playwright = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def test_a_live_page_says_when_its_session_ended_and_its_controls_say_they_did_not_run(served_slowly, chromium):
    from playwright.sync_api import expect

    served = served_slowly
    campaign = draft(served)
    served.api("POST", f"/api/campaigns/{campaign['id']}/run/")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    live, other = context.new_page(), context.new_page()
    path = f"/internal/campaigns/{campaign['id']}/"
    log_in(live, served, path)
    expect(live.locator('#campaign-progress [data-field="status"]')).to_have_text("running")

    # Another tab logs out: the live page notices at its next poll and says so.
    other.goto(f"{served.base}/internal/logout/")
    other.get_by_role("main").get_by_role("button", name="Log out").click()
    alert = live.get_by_role("alert")
    expect(alert).to_contain_text(SIGNED_OUT, timeout=5_000)
    expect(live.locator('#campaign-progress [data-field="eta"]')).to_have_text("\u2014")
    assert alert.get_by_role("link", name="Log in again").get_attribute("href") == f"/internal/login/?next={path}"

    # Its Pause does nothing, and says so; the login goes back to the campaign's page.
    live.get_by_role("button", name="Pause").click()
    live.wait_for_url(re.compile(r".*/internal/login/\?next="))
    expect(live.get_by_role("alert")).to_contain_text("Signed out: Pause did not run, nothing was changed.")
    assert status_of(served, campaign) == "running"
    fill_login(live)
    live.wait_for_url(f"{served.base}{path}")
    expect(live.get_by_role("button", name="Pause")).to_be_visible()
    context.close()


def eta_seconds(text: str) -> int | None:
    """Seconds of "about 1 min 5 s" / "about 12 s"; None for the dash or "estimating..."."""
    match = re.fullmatch(r"about (?:(\d+) min )?(\d+) s", text)
    return None if match is None else int(match[1] or 0) * 60 + int(match[2])


def test_two_tabs_redraw_controls_and_the_time_left_from_the_servers_state(served_slowly, chromium):
    """Tab A pauses and resumes; tab B shows what the campaign allows each time, no send rate or
    estimate while paused, and after the resume an estimate from the sends since (never the
    stale one a rate measured across the pause would give)."""
    from playwright.sync_api import expect

    served = served_slowly
    campaign = draft(served)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab_a, tab_b = context.new_page(), context.new_page()
    path = f"/internal/campaigns/{campaign['id']}/"
    log_in(tab_a, served, path)
    tab_b.goto(f"{served.base}{path}")
    served.api("POST", f"/api/campaigns/{campaign['id']}/run/")
    eta = tab_b.locator('#campaign-progress [data-field="eta"]')
    rate = tab_b.locator('#campaign-progress [data-field="rate"]')
    expect(eta).to_have_text(re.compile(r"about \d"), timeout=10_000)

    tab_a.get_by_role("button", name="Pause").click()
    tab_a.get_by_text("Campaign paused.").wait_for()
    expect(tab_b.get_by_role("button", name="Resume")).to_be_visible(timeout=5_000)
    expect(tab_b.get_by_role("button", name="Pause")).to_be_hidden()
    expect(eta).to_have_text("\u2014")
    expect(rate).to_have_text("\u2014")
    time.sleep(6)  # paused long enough for any rate measured across the pause to be far off

    tab_a.get_by_role("button", name="Resume").click()
    tab_a.get_by_text("Campaign resumed.").wait_for()
    expect(tab_b.get_by_role("button", name="Pause")).to_be_visible(timeout=5_000)
    expect(tab_b.get_by_role("button", name="Resume")).to_be_hidden()
    # Check every estimate from the resume on is about the time it really took to finish (a rate
    # measured across the pause would say minutes for seconds).
    seen = []
    while tab_b.locator('#campaign-progress [data-field="status"]').inner_text() == "running":
        seconds = eta_seconds(eta.inner_text())
        if seconds is not None:
            seen.append((time.monotonic(), seconds))
        tab_b.wait_for_timeout(500)
    finished = time.monotonic()
    for at, seconds in seen:
        assert seconds <= 3 * (finished - at) + 3, (seconds, finished - at, seen)
    assert seen, "no estimate was shown after the resume"
    expect(eta).to_have_text("\u2014")
    expect(rate).to_have_text("\u2014")
    context.close()


def test_run_asks_in_a_keyboard_usable_dialog(served, chromium):
    from playwright.sync_api import expect

    campaign = draft(served)
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    path = f"/internal/campaigns/{campaign['id']}/"
    log_in(page, served, "/internal/campaigns/")
    listed = page.get_by_role("row").filter(has_text="Everyone")
    expect(listed.locator('[data-field="audience"]')).to_have_text(f"{CUSTOMERS} match now")
    page.goto(f"{served.base}{path}")
    expect(page.locator('#campaign-progress [data-field="audience"]')).to_have_text(f"{CUSTOMERS} match now")

    # Check the keyboard opens the question, Escape closes it and nothing was sent.
    run = page.get_by_role("button", name="Run", exact=True)
    run.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Send to {CUSTOMERS} customers now?")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.closest('dialog') !== null")  # the focus moved into it
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert status_of(served, campaign) == "draft"
    # ... and the focus starts on "Not now" (the safe answer), which closes it too.
    run.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Not now"
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert status_of(served, campaign) == "draft"

    # Then Tab to "Send now", and Enter sends.
    run.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send now"
    page.keyboard.press("Enter")
    page.get_by_text("Campaign started.").wait_for()
    assert status_of(served, campaign) in ("running", "completed")
    page.close()


def test_without_javascript_run_asks_on_a_confirmation_page(served, chromium):
    from playwright.sync_api import expect

    campaign = draft(served)
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    path = f"/internal/campaigns/{campaign['id']}/"
    log_in(page, served, path)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(re.escape(f"{served.base}{path}run/") + r"\??$"))  # a GET form: "?" or not
    expect(page.get_by_role("main")).to_contain_text(f"Send to {CUSTOMERS} customers now?")
    assert status_of(served, campaign) == "draft"
    assert page.evaluate(WIDTHS)[0] <= 375
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(f"{served.base}{path}")
    expect(page.get_by_text("Campaign started.")).to_be_visible()
    context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_long_names_wrap_and_nothing_is_wider_than_the_viewport(served, chromium, width):
    campaigns = [draft(served, SPACELESS), draft(served, LONG)]
    page = chromium.new_page(viewport={"width": width, "height": 800})
    page.set_default_timeout(15_000)
    log_in(page, served)
    pages = ["/internal/campaigns/"]
    pages += [f"/internal/campaigns/{c['id']}/{suffix}" for c in campaigns for suffix in ("", "run/")]
    for path in pages:
        page.goto(f"{served.base}{path}")
        scroll_width, viewport = page.evaluate(WIDTHS)
        assert scroll_width <= viewport, (path, scroll_width, viewport)
    # Check the list's table fits its container (it scrolls inside it at most, never the page).
    page.goto(f"{served.base}/internal/campaigns/")
    table, container = page.evaluate(
        "() => [document.querySelector('table').getBoundingClientRect().width,"
        " document.querySelector('main').clientWidth]"
    )
    if width == 1280:
        assert table <= container, (table, container)
    name = page.get_by_role("link", name=SPACELESS)
    box = name.bounding_box()
    assert box is not None and box["width"] <= width
    page.close()
