"""Screenshots of every dashboard page at 375 and 1280 px, for the docs.

Starts `crm serve` on a temporary SQLite database, fills it with demo data through the API and the
dashboard, and saves PNG files named PAGE-WIDTH.png into docs/screenshots/ (or --out), made
smaller with pngquant when it is installed, and the gallery that shows them all (README.md there).
Needs Debian's Chromium (/usr/bin/chromium) and the test extra (Playwright):

    .venv/bin/python tools/screenshots.py
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.served import CHROMIUM, Served  # noqa: E402

WIDTHS = {375: 812, 1280: 900}  # width: viewport height
OPERATOR = ("ops@example.com", "demo-password-1")
FIRST = ["Ann", "Bob", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Keiko", "Luis"]
LAST = ["Lee", "Martin", "Nakamura", "Okafor", "Petit", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Varga"]


def seed(server: Served) -> None:
    """Two restaurants, their customers and visits over the last four months."""
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    pizza = server.api("POST", "/api/restaurants/", {"name": "Pizza Palace", "timezone": "America/New_York"})
    sushi = server.api("POST", "/api/restaurants/", {"name": "Sushi Bar", "timezone": "Europe/Paris"})
    for n in range(90):
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
        restaurant = pizza if n < 75 else sushi
        body = {"restaurant": restaurant["id"], "email": f"{first}.{last}{n}@example.com".lower()}
        customer = server.api("POST", "/api/customers/", {**body, "first_name": first, "last_name": last})
        for _ in range(rng.randint(1, 4)):
            days_ago = rng.randint(0, 120)
            visited = (now - timedelta(days=days_ago, hours=rng.randint(0, 20))).isoformat()
            spend = rng.choice([1800, 2500, 4200, 9900, 15000])
            visit = {"spend_cents": spend, "visited_at": visited}
            server.api("POST", f"/api/customers/{customer['id']}/add_visit/", visit)


def log_in(page, base: str) -> None:
    page.goto(f"{base}/internal/login/")
    page.get_by_label("Email").fill(OPERATOR[0])
    page.get_by_label("Password").fill(OPERATOR[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/internal/campaigns/")


def create_campaign(page, base: str, restaurant: str, name: str, segment: str, value: int, message: str) -> str:
    page.goto(f"{base}/internal/campaigns/new/")
    page.get_by_label("Restaurant").select_option(label=restaurant)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Segment", exact=True).select_option(segment)
    page.get_by_label("Segment value (N)").fill(str(value))
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/internal/campaigns/*-*/")
    return page.url


def control(page, url: str, action: str) -> None:
    page.goto(url)
    page.locator(f'[data-control="{action}"] button').click()
    question = page.locator(f"dialog#confirm-{action}")  # Run, Cancel and Retry failed ask first
    if question.count() and question.is_visible():
        question.locator("button[type=submit]:not([formmethod])").click()
    page.wait_for_load_state()


def wait_for_status(page, url: str, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.request.get(url + "progress.json").json()["status"] == status:
            return
        time.sleep(0.5)
    raise SystemExit(f"{url} did not become {status}")


# Every page shot, in the order the gallery (docs/screenshots/README.md) shows them.
SHOTS = {
    "login": "Login",
    "home": "Home: the overview per restaurant and in total, messages, visits and spend per day, the running campaigns",
    "campaigns": "Campaigns: search, filters, sorting and progress",
    "campaign": "A running campaign: live progress, send rate and time left",
    "campaign-paused": "A paused campaign",
    "campaign-run": "A draft's Run asks first: how many customers it will reach now",
    "campaign-completed": "A completed campaign and its results",
    "campaign-form": "The campaign form and its live preview",
    "segments": "Saved segments, each rule in words",
    "segment-form": "The segment builder: conditions, a group, and whom the rule matches now",
    "customers": "Customers: a search of every restaurant",
    "customer": "A customer (the whole page): totals, consent, and a timeline of visits, consent changes and messages",
    "customer-log": "A customer's event log, in plain words, with a raw event opened for audits",
    "imports": "Imports: the upload form, and each import with its progress and counts",
    "import": "An import's page: its progress, counts and first rejected rows, and the report to download",
    "not-found": "The dashboard's 404 page",
    "logout": "Logout",
}
GALLERY = """# Screenshots

Every page of the operator dashboard at 1280 and 375 px, from demo data. `tools/screenshots.py`
writes them and this page (see [development.md](../development.md#screenshots)).
"""


def shoot(pages: dict, out: Path, name: str, url: str | None = None, prepare=None, full_page=False) -> None:
    assert name in SHOTS, name
    for width, page in pages.items():
        if url:
            page.goto(url)
        if prepare:
            prepare(page)
        path = out / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if shutil.which("pngquant"):  # 256 colours: a third of the size, no visible change here
            subprocess.run(["pngquant", "--force", "--skip-if-larger", "--output", str(path), str(path)], check=False)
        print(f"saved {path.name} ({path.stat().st_size // 1024} KB)")


def write_gallery(out: Path) -> None:
    """docs/screenshots/README.md: each page at both widths, the same height on screen."""
    sections = [GALLERY]
    for name, caption in SHOTS.items():
        sections.append(
            f"## {caption}\n\n"
            f'<img src="{name}-1280.png" width="600" alt="{caption}, at 1280 px"> '
            f'<img src="{name}-375.png" width="195" alt="{caption}, at 375 px">\n'
        )
    (out / "README.md").write_text("\n".join(sections))


SEGMENTS = {
    "Regulars gone quiet": {
        "all": [
            {"field": "total_spend_cents", "op": "gte", "value": 10000},
            {"field": "last_visit_at", "op": "older_than_days", "value": 45},
        ]
    },
    "First-timers of last month": {
        "all": [
            {"field": "visit_count", "op": "lte", "value": 1},
            {"field": "first_visit_at", "op": "within_days", "value": 30},
            {"field": "messaged_in_last_days", "op": "eq", "value": False, "days": 7},
        ]
    },
}


IMPORT_FILE = (
    "email,first_name,last_name,email_consent\n"
    + "".join(f"{FIRST[n % 12].lower()}.{n}@example.com,{FIRST[n % 12]},{LAST[n % 11]},subscribed\n" for n in range(40))
    + "not-an-email,Nobody,,\nann.0@example.com,Ann,Again,\nmia@example.com,Mia,Rossi,maybe\n"
).encode()


def build_segment(page) -> None:
    """Two conditions and a group of two, with the live count drawn."""
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    page.get_by_label("Name").fill("Big spenders, lately quiet")
    page.get_by_label("Amount ($)").fill("100")
    page.get_by_role("button", name="Add condition", exact=True).click()
    second = page.locator("[data-kind=condition]").nth(1)
    second.get_by_label("Field").select_option(label="Last visit")
    second.get_by_label("Comparison").select_option(label="more than N days ago")
    second.get_by_label("Days").fill("20")
    page.get_by_role("button", name="Add group").click()
    group = page.locator("[data-kind=group]")
    group.get_by_label("any of these conditions").check()
    group.get_by_label("Field").select_option(label="Email consent")
    group.get_by_role("button", name="Add condition to group 3").click()
    group.locator("[data-kind=condition]").nth(1).get_by_label("Field").select_option(label="Number of visits")
    group.locator("[data-kind=condition]").nth(1).get_by_label("Number").fill("3")
    page.locator('#segment-count [data-field="segment-count"]').wait_for()
    time.sleep(0.6)


def campaign_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def open_event_log(page) -> None:
    page.locator("#event-log > summary").click()
    page.locator("#event-log li details summary").first.click()
    page.evaluate("document.getElementById('history-title').scrollIntoView()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        server = Served(
            Path(directory), DELIVERY_BACKEND="simulated", SIMULATED_LATENCY_MS="250", SIMULATED_FAILURE_RATE="0.08"
        )
        server.start()
        try:
            server.crm("operator", "create", OPERATOR[0], "--password", OPERATOR[1])
            seed(server)
            base = server.base
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                pages = {w: browser.new_page(viewport={"width": w, "height": h}) for w, h in WIDTHS.items()}
                shoot(pages, args.out, "login", f"{base}/internal/login/")
                for page in pages.values():
                    log_in(page, base)
                operator = pages[1280]

                # A completed campaign, a paused one, a draft and a cancelled one; the form takes dollars.
                done = create_campaign(
                    operator,
                    base,
                    "Sushi Bar",
                    "Autumn win-back",
                    "inactive_days",
                    30,
                    "Hi {first_name}, we miss you at {restaurant_name}!",
                )
                control(operator, done, "run")
                wait_for_status(operator, done, "completed")
                running = create_campaign(
                    operator,
                    base,
                    "Pizza Palace",
                    "VIP thank-you",
                    "high_spenders",
                    50,
                    "Thank you, {first_name}! Dessert is on us this month.",
                )
                control(operator, running, "run")
                time.sleep(3)
                shoot(pages, args.out, "campaign", running, lambda page: time.sleep(1.2))
                shoot(pages, args.out, "home", f"{base}/internal/", lambda page: time.sleep(1.2))
                control(operator, running, "pause")
                wait_for_status(operator, running, "paused")
                shoot(pages, args.out, "campaign-paused", running)
                draft = create_campaign(
                    operator,
                    base,
                    "Pizza Palace",
                    "Spring menu",
                    "inactive_days",
                    60,
                    "Hi {first_name}, our spring menu is here.",
                )

                def ask_to_run(page):
                    page.locator('[data-control="run"] button').click()
                    page.locator("dialog#confirm-run").wait_for()

                shoot(pages, args.out, "campaign-run", draft, ask_to_run)
                cancelled = create_campaign(
                    operator, base, "Sushi Bar", "Old promo", "high_spenders", 1000, "Hello {first_name}"
                )
                control(operator, cancelled, "cancel")
                shoot(pages, args.out, "campaigns", f"{base}/internal/campaigns/")
                shoot(pages, args.out, "campaign-completed", done)

                def fill_form(page):
                    page.get_by_label("Name").fill("Lunch comeback")
                    page.get_by_label("Segment value (N)").fill("40")
                    page.get_by_label("Message").fill("Hi {first_name} {last_name}, lunch at {restaurant_name}?")
                    page.locator('#campaign-preview [data-field="audience-count"]').wait_for()
                    time.sleep(0.6)

                shoot(pages, args.out, "campaign-form", f"{base}/internal/campaigns/new/", fill_form)
                restaurants = server.api("GET", "/api/restaurants/")["results"]
                pizza = next(r for r in restaurants if r["name"] == "Pizza Palace")
                for name, rule in SEGMENTS.items():
                    server.api("POST", "/api/segments/", {"restaurant": pizza["id"], "name": name, "rule": rule})
                shoot(pages, args.out, "segments", f"{base}/internal/segments/")
                shoot(pages, args.out, "segment-form", f"{base}/internal/segments/new/", build_segment, full_page=True)
                shoot(pages, args.out, "customers", f"{base}/internal/customers/?q=an")

                # A customer the completed campaign wrote to, who changed their mind twice and came back.
                reached = server.api("GET", f"/api/outreach-events/?campaign_id={campaign_id(done)}&status=sent")
                customer = reached["results"][0]["customer"]
                server.api("POST", f"/api/customers/{customer}/unsubscribe/")
                server.api("POST", f"/api/customers/{customer}/resubscribe/")
                server.api("POST", f"/api/customers/{customer}/add_visit/", {"spend_cents": 4650})
                shoot(pages, args.out, "customer", f"{base}/internal/customers/{customer}/", full_page=True)
                shoot(pages, args.out, "customer-log", None, open_event_log)
                # An import of a file from another system: new guests, known ones, and a few bad rows.
                imported = server.upload(pizza, "customers", IMPORT_FILE, filename="guests-from-the-old-till.csv")
                while server.api("GET", f"/api/imports/{imported['id']}/")["status"] == "running":
                    time.sleep(0.2)
                shoot(pages, args.out, "imports", f"{base}/internal/imports/")
                shoot(pages, args.out, "import", f"{base}/internal/imports/{imported['id']}/", full_page=True)
                shoot(pages, args.out, "not-found", f"{base}/internal/campaigns/no-such-campaign/")
                shoot(pages, args.out, "logout", f"{base}/internal/logout/")
                browser.close()
        finally:
            server.stop()
    write_gallery(args.out)


if __name__ == "__main__":
    main()
