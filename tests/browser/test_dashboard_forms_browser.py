"""The campaign form in headless Chromium against a real `crm serve`: a preview that waits for the
fields it needs and speaks dollars, a keyboard-only walk to a new draft, the focus on the first
error after a failed submit, and a focus ring that shows."""

from __future__ import annotations

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

RING = {"outlineStyle": "solid", "outlineWidth": "3px", "outlineColor": "rgb(13, 110, 253)"}
DAYS = "Enter a whole number of days from 0 to 36500, such as 30."
VALUE_HELP = "Days for inactive customers (such as 30); dollars for high spenders (such as 500 or 12.50)."


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two restaurants; at Sushi Bar, Ann spent $12.50 and Bob $5.00 (today: neither is inactive).

    One server for the module (each test leaves it as it found it, or only adds a draft)."""
    server = Served(tmp_path_factory.mktemp("forms"))
    try:
        server.start()
        server.add_operator()
        server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
        sushi = server.api("POST", "/api/restaurants/", {"name": "Sushi Bar"})
        for name, cents in (("Ann", 1250), ("Bob", 500)):
            body = {"restaurant": sushi["id"], "email": f"{name.lower()}@example.com", "first_name": name}
            customer = server.api("POST", "/api/customers/", body)
            server.api("POST", f"/api/customers/{customer['id']}/add_visit/", {"spend_cents": cents})
        server.sushi = sushi
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(served):
    """A logged-in operator's page at 1280 px."""
    sync_playwright = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{served.base}/internal/login/")
            fill_login(page)
            page.wait_for_url(f"{served.base}/internal/campaigns/")
            yield page
        finally:
            browser.close()


def focused(page) -> str:
    """The focused element: its name, or its text for a link."""
    return page.evaluate("document.activeElement.name || document.activeElement.textContent.trim()")


def ring(page) -> dict:
    """The focused element's outline."""
    return page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return {outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor}; })()"
    )


def test_the_preview_waits_for_the_fields_it_needs_and_speaks_dollars(served, page):
    from playwright.sync_api import expect

    page.goto(f"{served.base}/internal/campaigns/new/")
    preview = page.locator("#campaign-preview")
    # Check nothing reads as an error before anything is typed.
    waiting = "The audience and sample messages appear here once these are filled in: "
    expect(preview).to_have_text(waiting + "Name, Segment value (N), Message.")
    page.get_by_label("Name").fill("Big spenders")
    expect(preview).to_have_text(waiting + "Segment value (N), Message.")

    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    page.get_by_label("Segment", exact=True).select_option("high_spenders")
    page.get_by_label("Segment value (N)").fill("12.5")
    page.get_by_label("Message").fill("Hi {first_name}!")
    # Check the preview says the threshold in dollars, and counts in dollars: Ann spent $12.50.
    expect(preview.locator('[data-field="segment"]')).to_have_text("High spenders: total spend of at least $12.50")
    expect(preview.locator("p").nth(1)).to_have_text("1 customer matches now.")
    expect(preview.locator(".sample .message")).to_have_text("Hi Ann!")
    page.get_by_label("Segment value (N)").fill("5")
    expect(preview.locator('[data-field="segment"]')).to_have_text("High spenders: total spend of at least $5.00")
    expect(preview.locator("p").nth(1)).to_have_text("2 customers match now.")

    # Check a value the server refuses is named by its label, with one message.
    page.get_by_label("Segment", exact=True).select_option("inactive_days")
    page.get_by_label("Segment value (N)").fill("12.50")
    expect(preview).to_have_text(f"No preview: Segment value (N): {DAYS}")


def test_a_keyboard_only_walk_creates_a_draft(served, page):
    from playwright.sync_api import expect

    page.goto(f"{served.base}/internal/campaigns/new/")
    keyboard = page.keyboard
    for _ in range(20):  # past the skip link and the menu
        keyboard.press("Tab")
        if focused(page) == "restaurant":
            break
    assert focused(page) == "restaurant"
    assert ring(page) == RING
    keyboard.press("ArrowDown")
    expect(page.get_by_label("Restaurant")).to_have_value(served.sushi["id"])

    walk = [
        ("name", lambda: keyboard.type("Keyboard walk")),
        ("segment_type", lambda: keyboard.press("ArrowDown")),
        ("segment_value", lambda: keyboard.type("12.50")),
        ("subject", None),  # its default, "{restaurant_name}"
        ("message_template", lambda: keyboard.type("Hi {first_name}, see you soon!")),
    ]
    for name, fill in walk:
        keyboard.press("Tab")
        assert focused(page) == name
        assert ring(page) == RING, name
        if fill:
            fill()
    expect(page.locator('#campaign-preview [data-field="audience-count"]')).to_have_text("1")
    # Check the buttons come next in order, each with the ring, then back to Save draft.
    for name in ("submit", "preview", "Cancel"):
        keyboard.press("Tab")
        assert focused(page) == name
        assert ring(page) == RING, name
    keyboard.press("Shift+Tab")
    keyboard.press("Shift+Tab")
    assert focused(page) == "submit"

    keyboard.press("Enter")
    page.wait_for_url("**/internal/campaigns/*-*/")
    expect(page.get_by_role("status")).to_have_text("Draft campaign created. Run it when ready.")
    saved = served.api("GET", f"/api/campaigns/{page.url.rstrip('/').split('/')[-1]}/")
    assert (saved["name"], saved["restaurant"], saved["status"]) == ("Keyboard walk", served.sushi["id"], "draft")
    assert (saved["segment_type"], saved["segment_value"]) == ("high_spenders", 1250)
    assert (saved["subject"], saved["message_template"]) == ("{restaurant_name}", "Hi {first_name}, see you soon!")


def test_a_failed_submit_moves_the_focus_to_the_first_error(served, page):
    from playwright.sync_api import expect

    before = served.api("GET", "/api/campaigns/")["count"]
    page.goto(f"{served.base}/internal/campaigns/new/")
    page.get_by_label("Segment value (N)").fill("12.50")
    page.get_by_label("Message").fill("Hi {first_name}!")
    page.get_by_label("Segment value (N)").press("Enter")  # the form's first button: Save draft
    page.wait_for_load_state()
    # Check the first invalid field has the focus and the ring; each error is its field's description.
    name = page.get_by_label("Name")
    expect(name).to_be_focused()
    assert ring(page) == RING
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("This field is required.")
    value = page.get_by_label("Segment value (N)")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_accessible_description(f"{DAYS} {VALUE_HELP}")
    expect(page.locator(".invalid-feedback")).to_have_text(["This field is required.", DAYS])
    expect(page.get_by_label("Message")).not_to_have_attribute("aria-invalid", "true")
    assert served.api("GET", "/api/campaigns/")["count"] == before
