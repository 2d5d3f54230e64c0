"""Every dashboard page in headless Chromium at 375 and 1280 px (issue 12): axe-core finds no
serious or critical violation, and nothing is wider than the screen.

axe-core is vendored (vendor/README.md) and evaluated through the DevTools protocol: the dashboard's
CSP refuses inline scripts, so Playwright's `add_script_tag` (an inline <script>) is refused too,
and the pages are checked with their CSP on rather than bypassed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.served import CHROMIUM, OPERATOR, Served, fill_login, require_browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
IMPACTS = ("critical", "serious", "moderate", "minor")
FAILING = IMPACTS[:2]
WIDTHS = {375: 812, 1280: 900}  # width: viewport height
GUESTS = 60
BIG_SPENDERS = 3  # the completed campaign's audience: 3 messages, about 6 s
# The running campaign's 60 messages take 2 minutes: its pages are checked first, and find it
# running however long the rest of the seed and the browser's start take on a busy machine.
LATENCY_MS = 2000
AXE_RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  const listed = found => found.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html.slice(0, 160)})),
  }));
  return {violations: listed(results.violations), incomplete: listed(results.incomplete)};
}"""
WIDEST = "() => document.documentElement.scrollWidth"


def seed(served: Served) -> dict:
    """Pizza Palace and its 60 guests (3 spent $150, one unsubscribed); a campaign completed to the
    3 big spenders, one running to everyone, a draft and a cancelled one; the first big spender's timeline has
    visits, the message and a consent change back and forth."""
    pizza = served.api("POST", "/api/restaurants/", {"name": "Pizza Palace", "timezone": "Europe/Rome"})
    guests = []
    for n in range(GUESTS):
        body = {"restaurant": pizza["id"], "email": f"guest{n}@example.com", "first_name": f"Guest{n}"}
        guest = served.api("POST", "/api/customers/", {**body, "last_name": "Rossi"})
        spend = 15000 if n < BIG_SPENDERS else 1800 + n
        served.api("POST", f"/api/customers/{guest['id']}/add_visit/", {"spend_cents": spend})
        guests.append(guest)
    served.api("POST", f"/api/customers/{guests[-1]['id']}/unsubscribe/")

    def campaign(name: str, segment_type: str, value: int) -> dict:
        body = {"restaurant": pizza["id"], "name": name, "segment_type": segment_type, "segment_value": value}
        return served.api("POST", "/api/campaigns/", {**body, "message_template": "Hi {first_name}, see you soon!"})

    completed = campaign("Thank you, regulars", "high_spenders", 10000)
    served.api("POST", f"/api/campaigns/{completed['id']}/run/")
    wait_for(served, completed["id"], "completed")
    customer = guests[0]["id"]
    served.api("POST", f"/api/customers/{customer}/unsubscribe/")
    served.api("POST", f"/api/customers/{customer}/resubscribe/")
    draft = campaign("Spring menu", "inactive_days", 30)
    cancelled = campaign("Old promotion", "inactive_days", 90)
    served.api("POST", f"/api/campaigns/{cancelled['id']}/cancel/")
    running = campaign("Everyone, autumn menu", "high_spenders", 0)
    ids = {"completed": completed, "running": running, "draft": draft, "cancelled": cancelled}
    segment = served.api("POST", "/api/segments/", {"restaurant": pizza["id"], "name": "Big spenders", "rule": GROUPED})
    imported = served.upload(pizza, "customers", IMPORTED, filename="guests from the old system.csv")
    deadline = time.monotonic() + 60
    while served.api("GET", f"/api/imports/{imported['id']}/")["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # Last: the embedded worker runs one task at a time, and this campaign's batch holds it.
    served.api("POST", f"/api/campaigns/{running['id']}/run/")
    return {
        **{name: campaign["id"] for name, campaign in ids.items()},
        "customer": customer,
        "segment": segment["id"],
        "import": imported["id"],
    }


# An import's file: two new guests, one known, and two rows rejected.
IMPORTED = (
    b"email,first_name\n"
    b"new1@example.com,New\nnot-an-email,Bad\nguest1@example.com,Guest1\nnew2@example.com,Two\nnew1@example.com,Again\n"
)


GROUPED = {
    "all": [
        {"field": "total_spend_cents", "op": "between", "value": [10000, 50000]},
        {
            "any": [
                {"field": "visits_in_last_days", "op": "gte", "value": 1, "days": 30},
                {"field": "last_visit_at", "op": "never"},
            ]
        },
    ]
}


def wait_for(served: Served, campaign: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while (current := served.api("GET", f"/api/campaigns/{campaign}/"))["status"] != status:
        assert time.monotonic() < deadline, current
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Served(
        tmp_path_factory.mktemp("accessibility"),
        DELIVERY_BACKEND="simulated",
        SIMULATED_LATENCY_MS=str(LATENCY_MS),
    )
    try:
        server.start()
        server.add_operator()
        server.ids = seed(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def operator_pages(served, chromium):
    """A logged-in page per width, opened when first asked for."""
    pages = {}

    def at(width: int):
        if width not in pages:
            page = chromium.new_page(viewport={"width": width, "height": WIDTHS[width]})
            page.set_default_timeout(15_000)
            page.goto(f"{served.base}/internal/login/")
            log_in(page, *OPERATOR)
            page.wait_for_url(f"{served.base}/internal/campaigns/")
            pages[width] = page
        return pages[width]

    yield at
    for page in pages.values():
        page.close()


def log_in(page, email: str, password: str) -> None:
    fill_login(page, email, password)
    page.wait_for_load_state()


def go(path: str) -> Callable:
    """A page reached by its address; `{name}` in the path is one of the seeded ids."""
    return lambda served, page: page.goto(served.base + path.format(**served.ids))


def live(path: str, status: str) -> Callable:
    """A campaign page once its live progress has drawn the status."""

    def visit(served, page):
        from playwright.sync_api import expect

        go(path)(served, page)
        expect(page.locator('#campaign-progress [data-field="status"]')).to_have_text(status)

    return visit


def running(served, page):
    live("/internal/campaigns/{running}/", "running")(served, page)


def paused(served, page):
    campaign = served.ids["running"]
    if served.api("GET", f"/api/campaigns/{campaign}/")["status"] == "running":
        served.api("POST", f"/api/campaigns/{campaign}/pause/")
    live("/internal/campaigns/{running}/", "paused")(served, page)


def run_dialog(served, page):
    from playwright.sync_api import expect

    go("/internal/campaigns/{draft}/")(served, page)
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def form_errors(served, page):
    """The new campaign form after a submit with no name and days of "12.50"."""
    go("/internal/campaigns/new/")(served, page)
    page.get_by_label("Segment value (N)").fill("12.50")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() >= 2


def segment_builder(served, page):
    """A new segment with a condition of each kind of input, a group, and the count drawn."""
    from playwright.sync_api import expect

    go("/internal/segments/new/")(served, page)
    page.get_by_label("Name").fill("Lapsed regulars")
    page.get_by_label("Amount ($)").fill("20")
    for field, comparison in (("Last visit", "before"), ("Received a campaign", "is"), ("Email consent", "is")):
        page.get_by_role("button", name="Add condition", exact=True).click()
        row = page.locator("[data-kind=condition]").last
        row.get_by_label("Field").select_option(label=field)
        row.get_by_label("Comparison").select_option(label=comparison)
    page.locator("[data-kind=condition]").nth(1).get_by_label("Date and time (your time zone)").fill("2030-01-01T09:00")
    page.get_by_role("button", name="Add group").click()
    page.locator("[data-kind=group]").get_by_label("Field").select_option(label="Spend in the last N days")
    page.locator("[data-kind=group]").get_by_label("In the last N days").fill("30")
    page.locator("[data-kind=group]").get_by_label("Amount ($)").fill("5")
    expect(page.locator('#segment-count [data-field="segment-count"]')).to_be_visible()


def segment_refused(served, page):
    """The builder with the server's refusal marked on a control, then a save stopped on a gap."""
    from playwright.sync_api import expect

    go("/internal/segments/new/")(served, page)
    page.get_by_label("Field").select_option(label="Visits in the last N days")
    page.get_by_label("In the last N days").fill("0")
    page.get_by_label("Number").fill("1")
    expect(page.locator("[aria-invalid=true]")).to_have_count(1)
    page.get_by_role("button", name="Add condition", exact=True).click()
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("#segment-count")).to_contain_text("Not saved yet")


def segment_delete_dialog(served, page):
    from playwright.sync_api import expect

    go("/internal/segments/{segment}/edit/")(served, page)
    page.get_by_role("button", name="Delete segment").click()
    expect(page.get_by_role("dialog")).to_be_visible()


def import_refused(served, page):
    """The import form after a submit without a file."""
    go("/internal/imports/")(served, page)
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_load_state()
    assert page.locator("[aria-invalid=true]").count() >= 1


def failed_login(served, page):
    go("/internal/login/")(served, page)
    log_in(page, "nobody@example.com", "not the password")
    assert "Wrong email or password." in page.locator("main").inner_text()


LOGGED_OUT = {"login": go("/internal/login/"), "login-failed": failed_login}
PAGES = {
    # The running campaign's pages first, long before it would finish; then it is paused.
    "campaign-running": running,
    "campaign-paused": paused,
    "home": go("/internal/"),
    "campaigns": go("/internal/campaigns/"),
    "campaigns-searched": go("/internal/campaigns/?q=menu&sort=progress"),
    "campaign-draft": go("/internal/campaigns/{draft}/"),
    "campaign-run-dialog": run_dialog,
    "campaign-run-page": go("/internal/campaigns/{draft}/run/"),
    "campaign-completed": go("/internal/campaigns/{completed}/"),
    "campaign-cancelled": go("/internal/campaigns/{cancelled}/"),
    "campaign-form-new": go("/internal/campaigns/new/"),
    "campaign-form-errors": form_errors,
    "campaign-form-edit": go("/internal/campaigns/{draft}/edit/"),
    "campaign-form-saved-segment": go("/internal/campaigns/new/?segment={segment}"),
    "customers": go("/internal/customers/?q=guest"),
    "customer": go("/internal/customers/{customer}/?events"),
    "segments": go("/internal/segments/"),
    "segment-builder": segment_builder,
    "segment-refused": segment_refused,
    "segment-edit": go("/internal/segments/{segment}/edit/"),
    "segment-delete-dialog": segment_delete_dialog,
    "segment-delete-page": go("/internal/segments/{segment}/delete/"),
    "imports": go("/internal/imports/"),
    "import-refused": import_refused,
    "import": go("/internal/imports/{import}/"),
    "not-found": go("/internal/campaigns/not-a-campaign/"),
    "logout": go("/internal/logout/"),
}
WALK = [(name, width) for name in [*PAGES, *LOGGED_OUT] for width in WIDTHS]


def test_the_vendored_axe_core_is_the_published_file():
    source = AXE.read_bytes()
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    assert source.startswith(f"/*! axe v{AXE_VERSION}\n".encode())


def axe(page) -> dict[str, list[dict]]:
    """axe-core's violations on the page as it is now, and what it could not decide (incomplete)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(AXE_RUN)


def test_axe_finds_a_field_without_a_label_and_a_button_without_a_name(served, chromium):
    """The check can fail: axe runs under the page's CSP and reports what is planted in it."""
    page = chromium.new_page()
    try:
        page.goto(f"{served.base}/internal/login/")
        page.evaluate(
            "() => document.querySelector('main form').append(document.createElement('input'),"
            " document.createElement('button'))"
        )
        found = {(v["id"], v["impact"]) for v in axe(page)["violations"]}
    finally:
        page.close()
    assert {("label", "critical"), ("button-name", "critical")} <= found


def described(violations: list[dict]) -> str:
    lines = [
        f"  {v['impact']}: {v['id']} ({v['help']}) at {n['target']}: {n['html']}"
        for v in violations
        for n in v["nodes"]
    ]
    return "\n".join(lines)


@pytest.mark.parametrize(("name", "width"), WALK, ids=[f"{name}-{width}" for name, width in WALK])
def test_every_page_passes_axe_and_fits_the_screen(served, chromium, operator_pages, name, width):
    context = None
    if name in LOGGED_OUT:
        context = chromium.new_context(viewport={"width": width, "height": WIDTHS[width]})
        page = context.new_page()
        page.set_default_timeout(15_000)
        LOGGED_OUT[name](served, page)
    else:
        page = operator_pages(width)
        PAGES[name](served, page)
    try:
        found = axe(page)
        widest = page.evaluate(WIDEST)
    finally:
        if context is not None:
            context.close()

    violations = found["violations"]
    by_impact = {impact: [v["id"] for v in violations if v["impact"] == impact] for impact in IMPACTS}
    unsure = [f"{v['id']} ({v['impact']})" for v in found["incomplete"]]
    print(f"{name} at {width} px: violations {by_impact}, incomplete {unsure}, {widest} px wide")
    failing = [v for v in violations if v["impact"] in FAILING]
    assert not failing, f"{name} at {width} px:\n{described(failing)}"
    assert widest <= width, f"{name} is {widest} px wide at {width} px"
