"""Imports in headless Chromium against a real `crm serve` (its embedded worker imports): a file
with a few bad rows uploaded through the form, its page following the import to 100 % without a
reload, the rejected rows shown and downloaded; a bad file refused beside the file input."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser.served import CHROMIUM, Served, fill_login, require_browser

GUESTS = 20_000  # a few seconds of importing: the page is drawn while it runs, then follows it
MAX_BYTES = 1_000_000  # the server's IMPORT_MAX_BYTES: the file of GUESTS rows is about 600 kB
BAD = {  # line: (the row written there, the column named, the reason)
    3: ("not-an-email,Nobody", "email", "invalid email"),
    7: ("guest2@example.com,Again", "email", "duplicate in file (first at line 5)"),
    GUESTS + 4: ("last@example,Nobody", "email", "invalid email"),  # the file's last line
}


def guest_file() -> bytes:
    """A header, then GUESTS good rows with the BAD rows at their lines."""
    lines, good = ["email,first_name"], iter(range(GUESTS))
    while len(lines) < GUESTS + len(BAD) + 1:
        line = len(lines) + 1
        if line in BAD:
            lines.append(BAD[line][0])
        else:
            n = next(good)
            lines.append(f"guest{n}@example.com,Guest{n}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = Served(tmp_path_factory.mktemp("imports"), IMPORT_MAX_BYTES=str(MAX_BYTES))
    try:
        server.start()
        server.add_operator()
        server.restaurant = server.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
        yield server
    finally:
        server.stop()


@pytest.fixture(params=[True], ids=["script"])
def page(served, request):
    """A logged-in operator's page at 1280 px (without JavaScript when the test says so)."""
    sync_playwright = require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(
                viewport={"width": 1280, "height": 900}, accept_downloads=True, java_script_enabled=request.param
            )
            page.set_default_timeout(15_000)
            page.goto(f"{served.base}/internal/login/")
            fill_login(page)
            page.wait_for_url(f"{served.base}/internal/campaigns/")
            yield page
        finally:
            browser.close()


def test_an_upload_is_followed_to_completion_and_its_rejected_rows_downloaded(served, page, tmp_path):
    from playwright.sync_api import expect

    guests = tmp_path / "guests.csv"
    guests.write_bytes(guest_file())
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Imports").click()
    page.wait_for_url(f"{served.base}/internal/imports/")
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    page.get_by_label("The file holds").select_option(label="Customers")
    page.get_by_label("CSV file").set_input_files(str(guests))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(f"{served.base}/internal/imports/*-*/")

    # Check the page was drawn while the import ran, and follows it to the end without a reload.
    section = page.locator("#import-progress")
    assert section.get_attribute("data-import-progress-url") is not None, "the import ended before its page"
    bar = page.get_by_role("progressbar", name="Progress of the import")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=120_000)
    expect(section.locator('[data-field="status"]')).to_have_text("completed")
    expect(page.get_by_role("status").filter(has_text="Import completed")).to_have_text(
        f"Import completed: {GUESTS} imported, 0 updated, 0 unchanged, {len(BAD)} rejected."
    )
    expect(section.locator('[data-field="rows_done"]')).to_have_text(str(GUESTS + len(BAD)))
    expect(bar.locator(".progress-bar")).to_have_text("100%")
    # Check the rejected rows are listed with their lines and reasons.
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows).to_have_count(len(BAD))
    expected = [[str(line), column, reason] for line, (_, column, reason) in sorted(BAD.items())]
    assert [row.locator("td").all_inner_texts() for row in rows.all()] == expected

    # Check the report downloads with every rejected row.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download rejected rows (CSV)").click()
    assert download.value.suggested_filename.endswith("-rejections.csv")
    report = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"), newline="")))
    assert report == [["line", "field", "reason"], *expected]

    # Check the list shows it done.
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Imports").click()
    row = page.get_by_role("row").filter(has_text="guests.csv")
    expect(row.locator('[data-field="status"]')).to_have_text("completed")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")


def test_a_file_that_is_not_a_csv_is_refused_beside_the_file_input(served, page, tmp_path):
    from playwright.sync_api import expect

    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01")
    page.goto(f"{served.base}/internal/imports/")
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    page.get_by_label("CSV file").set_input_files(str(picture))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_load_state()

    file_input = page.get_by_label("CSV file")
    expect(file_input).to_have_attribute("aria-invalid", "true")
    expect(file_input).to_be_focused()
    expect(page.locator("#file-error")).to_have_text("The file is not UTF-8 text: save the CSV as UTF-8.")


@pytest.mark.parametrize("page", [True, False], ids=["script", "no-script"], indirect=True)
def test_a_file_over_the_limit_is_refused_beside_the_file_input(served, page, tmp_path):
    """With the page's script, before it is sent; without, by the server (413), on the same form."""
    from playwright.sync_api import expect

    big = tmp_path / "big.csv"
    big.write_bytes(b"email\n" + b"x" * MAX_BYTES)
    before = served.api("GET", "/api/imports/")["count"]
    page.goto(f"{served.base}/internal/imports/")
    page.get_by_label("Restaurant").select_option(label="Pizza Palace")
    page.get_by_label("CSV file").set_input_files(str(big))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_load_state()

    expect(page.get_by_label("CSV file")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").or_(page.locator("#file-error"))).to_have_text(
        "This file is too large: at most 976.6 KiB can be imported at once."
    )
    assert served.api("GET", "/api/imports/")["count"] == before
