"""The segment builder in headless Chromium against a real `crm serve`: a two-condition segment
built with the count following each change, saved, and a draft campaign made for it; the keyboard
alone adds, fills and removes conditions with the focus where the work is; refusals named on their
control; a saved rule drawn again, and one the builder cannot draw left as JSON that still counts."""

from __future__ import annotations

import json

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

COUNT = '#segment-count [data-field="segment-count"]'


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """At Sushi Bar: Ann spent $60.00 in 2 visits, Bob $10.00 in 1, Cy $250.00 in 3; and a
    campaign, Spring menu. Pizza Palace has no customer."""
    server = Served(tmp_path_factory.mktemp("segments"))
    try:
        server.start()
        server.add_operator()
        server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
        sushi = server.api("POST", "/api/restaurants/", {"name": "Sushi Bar"})
        for name, cents, visits in (("Ann", 6000, 2), ("Bob", 1000, 1), ("Cy", 25000, 3)):
            body = {"restaurant": sushi["id"], "email": f"{name.lower()}@example.com", "first_name": name}
            customer = server.api("POST", "/api/customers/", {**body, "last_name": "Lee"})
            for _ in range(visits):
                server.api("POST", f"/api/customers/{customer['id']}/add_visit/", {"spend_cents": cents // visits})
        body = {"restaurant": sushi["id"], "name": "Spring menu", "segment_type": "inactive_days", "segment_value": 30}
        server.api("POST", "/api/campaigns/", {**body, "message_template": "Hi {first_name}"})
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


def condition(page, n: int):
    return page.locator("[data-kind=condition]").nth(n)


def focused_label(page) -> str:
    """The focused control's label, and the legend of the row it is in."""
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " const label = e.labels && e.labels.length ? e.labels[0].textContent : e.textContent;"
        " const row = e.closest('[data-kind]');"
        " return (row ? row.querySelector('legend').textContent + ': ' : '') + label.trim(); })()"
    )


def test_a_two_condition_segment_counted_as_it_is_built_saved_and_a_campaign_drafted_for_it(served, page):
    from playwright.sync_api import expect

    page.goto(f"{served.base}/internal/segments/")
    page.get_by_role("link", name="New segment").click()
    out = page.locator("#segment-count")
    # Check an empty amount is said to be missing, not refused.
    expect(out).to_have_text("Not counted yet: Condition 1: enter an amount in dollars, such as 500 or 12.50.")
    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    page.get_by_label("Name").fill("Big regulars")
    condition(page, 0).get_by_label("Amount ($)").fill("50")
    expect(page.locator(COUNT)).to_have_text("2")
    expect(out).to_contain_text("Cy Lee <cy@example.com>")
    expect(out).to_contain_text("Ann Lee <ann@example.com>")

    page.get_by_role("button", name="Add condition").click()
    second = condition(page, 1)
    second.get_by_label("Field").select_option(label="Number of visits")
    second.get_by_label("Number").fill("3")
    expect(page.locator(COUNT)).to_have_text("1")
    expect(out.locator("li")).to_have_text(["Cy Lee <cy@example.com>"])
    page.get_by_label("any of these conditions").check()
    expect(page.locator(COUNT)).to_have_text("2")
    page.get_by_label("all of these conditions").check()
    expect(page.locator(COUNT)).to_have_text("1")
    # Check another restaurant's customers are counted once it is chosen.
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    expect(page.locator(COUNT)).to_have_text("0")
    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    expect(page.locator(COUNT)).to_have_text("1")

    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url(f"{served.base}/internal/segments/")
    expect(page.get_by_role("status")).to_have_text("Segment “Big regulars” saved.")
    row = page.get_by_role("listitem").filter(has_text="Big regulars")
    expect(row.locator('[data-field="rule"]')).to_have_text(
        "Total spend at least $50.00 and number of visits at least 3"
    )
    saved = [s for s in served.api("GET", "/api/segments/")["results"] if s["name"] == "Big regulars"]
    rule = {
        "all": [
            {"field": "total_spend_cents", "op": "gte", "value": 5000},
            {"field": "visit_count", "op": "gte", "value": 3},
        ]
    }
    assert [s["rule"] for s in saved] == [rule]

    # Create a campaign from it: the form comes with the segment chosen, and previews its audience.
    row.get_by_role("link", name="New campaign to Big regulars").click()
    expect(page.get_by_label("Segment", exact=True)).to_have_value("segment")
    expect(page.get_by_label("Saved segment")).to_have_value(saved[0]["id"])
    expect(page.get_by_label("Segment value (N)")).to_be_hidden()
    page.get_by_label("Name").fill("Thank our big regulars")
    page.get_by_label("Message").fill("Hi {first_name}, thank you!")
    preview = page.locator("#campaign-preview")
    expect(preview.locator('[data-field="segment"]')).to_have_text("Saved segment: Big regulars")
    expect(preview.locator('[data-field="audience-count"]')).to_have_text("1")
    expect(preview).to_contain_text("Hi Cy, thank you!")
    # Check another restaurant's form offers only its own segments (Pizza Palace has none).
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    expect(page.get_by_label("Saved segment")).to_have_value("")
    expect(preview).to_contain_text("once these are filled in: Saved segment.")
    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    page.get_by_label("Saved segment").select_option(label="Big regulars")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(f"{served.base}/internal/campaigns/*-*/")
    campaign = served.api("GET", page.url.replace(served.base + "/internal", "/api"))
    assert (campaign["segment_type"], campaign["segment"]) == ("segment", saved[0]["id"])


def test_the_keyboard_alone_builds_a_group_and_removes_conditions(served, page):
    from playwright.sync_api import expect

    page.goto(f"{served.base}/internal/segments/new/")
    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    page.get_by_label("Name").focus()
    page.keyboard.type("Keyboard")
    # Tab to the builder: the mode, then condition 1's field, which the arrow keys change.
    page.keyboard.press("Tab")
    assert focused_label(page) == "all of these conditions"
    page.keyboard.press("Tab")
    assert focused_label(page) == "Condition 1: Field"
    page.keyboard.press("Tab")
    assert focused_label(page) == "Condition 1: Comparison"
    page.keyboard.press("Tab")
    page.keyboard.type("20")
    expect(page.locator(COUNT)).to_have_text("2")

    page.get_by_role("button", name="Add group").focus()
    page.keyboard.press("Enter")
    # Check the focus is in the new group: its mode, and its first condition follows.
    assert focused_label(page) == "Group 2: all of these conditions"
    expect(page.locator("#builder-status")).to_have_text("Group 2 added.")
    page.keyboard.press("ArrowDown")  # any
    page.keyboard.press("Tab")
    assert focused_label(page) == "Condition 1: Field"
    page.keyboard.type("Rec")  # a closed select's type-ahead: Received a campaign
    group = page.locator("[data-kind=group]")
    expect(group.get_by_label("Campaign")).to_have_value(
        next(c["id"] for c in served.api("GET", "/api/campaigns/")["results"] if c["name"] == "Spring menu")
    )
    group.get_by_label("Yes or no").select_option("false")
    expect(page.locator(COUNT)).to_have_text("2")  # nobody received it
    group.get_by_role("button", name="Add condition to group 2").press("Enter")
    assert focused_label(page) == "Condition 2: Field"
    gap = "Not counted yet: Group 2, condition 2: enter an amount in dollars, such as 500 or 12.50."
    expect(page.locator("#segment-count")).to_have_text(gap)

    # Check removing a row puts the focus on the next row, else the previous, else Add condition.
    group.get_by_role("button", name="Remove condition 1 of group 2").press("Enter")
    assert focused_label(page) == "Condition 1: Field"
    group.get_by_role("button", name="Remove condition 1 of group 2").press("Enter")
    assert focused_label(page) == "Group 2: Add condition"
    expect(page.locator("#builder-status")).to_have_text("Condition 1 removed.")
    page.get_by_role("button", name="Remove group 2").press("Enter")
    assert focused_label(page) == "Condition 1: Field"
    page.get_by_role("button", name="Remove condition 1", exact=True).press("Enter")
    assert focused_label(page) == "Add condition"
    expect(page.locator("#segment-count")).to_have_text("Not counted yet: Add a condition.")


def test_refusals_are_named_and_marked_on_their_control(served, page):
    from playwright.sync_api import expect

    page.goto(f"{served.base}/internal/segments/new/")
    page.get_by_label("Restaurant").select_option(label="Sushi Bar")
    page.get_by_label("Name").fill("Refused")
    first = condition(page, 0)
    first.get_by_label("Field").select_option(label="Visits in the last N days")
    first.get_by_label("In the last N days").fill("0")
    first.get_by_label("Number").fill("1")
    # Check the server's refusal is said in words and marked on the days.
    expect(page.locator("#segment-count")).to_have_text(
        "Not counted: Condition 1, days: must be an integer from 1 to 36500."
    )
    days = first.get_by_label("In the last N days")
    expect(days).to_have_attribute("aria-invalid", "true")
    expect(days).to_have_attribute("aria-describedby", "segment-count-problem")
    days.fill("30")
    expect(page.locator(COUNT)).to_have_text("3")
    expect(days).not_to_have_attribute("aria-invalid", "true")

    # Check an incomplete rule is not sent: the first gap is named, marked and focused.
    page.get_by_role("button", name="Add condition").click()
    condition(page, 1).get_by_label("Field").select_option(label="Last visit")
    condition(page, 1).get_by_label("Comparison").select_option(label="before")
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("#segment-count")).to_have_text("Not saved yet: Condition 2: enter a date and time.")
    assert focused_label(page) == "Condition 2: Date and time (your time zone)"
    assert page.url == f"{served.base}/internal/segments/new/"


def test_a_saved_rule_is_drawn_again_and_one_it_cannot_draw_stays_json(served, page):
    from playwright.sync_api import expect

    grouped = {
        "any": [
            {"field": "email_consent", "op": "eq", "value": "unsubscribed"},
            {
                "all": [
                    {"field": "average_spend_cents", "op": "between", "value": [2000, 4000]},
                    {"field": "last_visit_at", "op": "within_days", "value": 7},
                ]
            },
        ]
    }
    body = {"restaurant": served.sushi["id"], "name": "Grouped", "rule": grouped}
    segment = served.api("POST", "/api/segments/", body)
    page.goto(f"{served.base}/internal/segments/{segment['id']}/edit/")
    expect(page.get_by_label("any of these conditions").first).to_be_checked()
    group = page.locator("[data-kind=group]")
    expect(group.locator("legend").first).to_have_text("Group 2")
    expect(group.get_by_label("From ($)")).to_have_value("20.00")
    expect(group.get_by_label("To ($)")).to_have_value("40.00")
    expect(page.locator(COUNT)).to_have_text("1")  # Ann: $30.00 a visit, today
    assert json.loads(page.locator("textarea[name=rule]").input_value()) == grouped
    expect(page.locator("textarea[name=rule]")).to_be_hidden()

    negated = {"not": {"field": "visit_count", "op": "gte", "value": 2}}
    other = served.api("POST", "/api/segments/", {**body, "name": "Negated", "rule": negated})
    page.goto(f"{served.base}/internal/segments/{other['id']}/edit/")
    expect(page.locator("#builder-note")).to_be_visible()
    expect(page.locator("#segment-builder")).to_be_hidden()
    expect(page.locator(COUNT)).to_have_text("1")  # Bob
    page.get_by_label("Rule (JSON)").fill('{"not": {"field": "visit_count", "op": "gte", "value": 3}}')
    expect(page.locator(COUNT)).to_have_text("2")
    page.get_by_label("Rule (JSON)").fill('{"not": ')
    expect(page.locator("#segment-count")).to_have_text("Not counted yet: The rule is not JSON yet.")
