"""Dashboard import pages: the list with its upload form (CSRF, errors beside their fields, a file
over the limit), an import's page with its progress, counts and rejected rows, its JSON for the
page's polling, and the report's download."""

from __future__ import annotations

import dataclasses
import io
import re
import uuid

import pytest

from crm.http import create_app
from tests.e2e.dashboard_support import (
    OPERATOR_EMAIL,
    DashboardClient,
    redirects_to_login,
    text_of,
    unlabelled_controls,
)

LIST = "/internal/imports/"
CUSTOMERS = b"email,first_name\nann@example.com,Ann\nnot-an-email,Bob\nann@example.com,Again\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def upload(restaurant: dict | None, content: bytes | None, kind: str = "customers", filename: str = "guests.csv"):
    body: dict = {"kind": kind}
    if restaurant is not None:
        body["restaurant"] = restaurant["id"]
    if content is not None:
        body["file"] = (io.BytesIO(content), filename)
    return body


def uploaded(dash, restaurant: dict, content: bytes = CUSTOMERS) -> str:
    """Upload through the form; the import's page it is sent to."""
    response = dash.post(LIST, upload(restaurant, content), content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)
    assert re.fullmatch(r"/internal/imports/[0-9a-f-]{36}/", response.headers["Location"])
    return response.headers["Location"]


def import_id_of(page: str) -> uuid.UUID:
    return uuid.UUID(page.strip("/").rsplit("/", 1)[1])


def test_the_pages_need_a_login(visitor, make, restaurant):
    imported = make.upload(restaurant, "customers", CUSTOMERS)
    page = f"{LIST}{imported['id']}/"
    for path in (LIST, page, page + "rejections.csv"):
        assert redirects_to_login(visitor.get(path)), path
    assert visitor.get(page + "progress.json").status_code == 401
    response = visitor.client.post(LIST, data=upload(restaurant, CUSTOMERS), content_type="multipart/form-data")
    assert redirects_to_login(response)
    assert make.get("/api/imports/")["count"] == 1


def test_the_list_offers_the_upload_form_and_shows_each_import(dash, make, container, restaurant, clock):
    empty = dash.get(LIST)
    assert empty.status_code == 200
    page = text_of(empty)
    assert 'aria-current="page"' in page and ">Imports</a>" in page
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    assert f'<option value="{restaurant["id"]}">Pizza Palace</option>' in page
    assert "No import yet." in page
    assert unlabelled_controls(empty) == []

    running = make.upload(restaurant, "customers", CUSTOMERS, filename="running.csv")
    clock.advance(seconds=1)
    done = make.upload(restaurant, "customers", b"email\nzoe@example.com\n", filename="done.csv")
    container.application.continue_import(uuid.UUID(done["id"]))
    container.read_side.wait_for(container.runner.head())

    page = text_of(dash.get(LIST))
    assert "2 imports, newest first" in page
    row = r'<tr (?:data-import-progress-url="([^"]*)")?\s*>\s*<td class="text-name name-column">'
    rows = re.findall(row + r'\s*<a href="([^"]+)">([^<]+)</a>', page)
    assert rows == [
        ("", f"/internal/imports/{done['id']}/", "done.csv"),
        (f"/internal/imports/{running['id']}/progress.json", f"/internal/imports/{running['id']}/", "running.csv"),
    ]
    assert 'aria-label="Progress of done.csv" aria-valuenow="100"' in page
    assert 'aria-label="Progress of running.csv" aria-valuenow="0"' in page


def test_an_upload_through_the_form_leads_to_its_page_with_progress_counts_and_rejected_rows(
    dash, make, container, restaurant
):
    page = uploaded(dash, restaurant)
    import_id = import_id_of(page)

    # Check the page shows the running import, polls its progress, and says who uploaded it.
    shown = text_of(dash.get(page))
    assert "File received." in shown
    assert f'data-import-progress-url="{page}progress.json"' in shown
    assert 'aria-label="Progress of the import" aria-valuenow="0"' in shown
    assert 'data-field="status">running</span>' in shown and 'aria-live="polite"' in shown
    assert "Importing 3 rows…" in shown and "No row rejected so far." in shown
    assert make.get(f"/api/imports/{import_id}/")["started_by"] == f"operator:{OPERATOR_EMAIL}"
    assert '<script src="/internal/static/imports.js" defer></script>' in shown

    container.application.continue_import(import_id)
    container.read_side.wait_for(container.runner.head())

    # Check its JSON says it is done, with its counts and first rejected rows.
    progress = dash.get(page + "progress.json").get_json()
    assert {k: progress[k] for k in ("status", "final", "percent", "rows_done", "imported", "rejected")} == {
        "status": "completed",
        "final": True,
        "percent": 100,
        "rows_done": 3,
        "imported": 1,
        "rejected": 2,
    }
    assert progress["rejections"] == [
        {"line": 3, "field": "email", "reason": "invalid email"},
        {"line": 4, "field": "email", "reason": "duplicate in file (first at line 2)"},
    ]
    # Check the page shows the same, no longer polls, and links the report, which holds every rejected row.
    shown = text_of(dash.get(page))
    assert "data-import-progress-url" not in shown
    assert (
        'aria-valuenow="100"' in shown and "Import completed: 1 imported, 0 updated, 0 unchanged, 2 rejected." in shown
    )
    assert re.findall(
        r"<tr><td class=\"text-end\">(\d+)</td><td>(\w+)</td><td class=\"text-break\">([^<]+)</td></tr>", shown
    ) == [
        ("3", "email", "invalid email"),
        ("4", "email", "duplicate in file (first at line 2)"),
    ]
    assert f'href="{page}rejections.csv"' in shown and "Download rejected rows (CSV)" in shown
    report = dash.get(page + "rejections.csv")
    assert report.status_code == 200 and report.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert report.headers["Content-Disposition"] == f'attachment; filename="import-{import_id}-rejections.csv"'
    assert report.get_data() == (
        b"line,field,reason\r\n3,email,invalid email\r\n4,email,duplicate in file (first at line 2)\r\n"
    )


# (case, the form's fields (a bytes value is sent as the file), the field in error, its message)
BAD_FORMS = [
    ("no file", {"kind": "customers"}, "file", "Choose a CSV file to import."),
    ("a PNG", {"kind": "customers", "file": PNG}, "file", "The file is not UTF-8 text: save the CSV as UTF-8."),
    ("no email column", {"kind": "customers", "file": b"name\nAnn\n"}, "file", "lacks the required column(s) email"),
    ("visits without spend", {"kind": "visits", "file": b"email,visited_at\na@b.co,2024-01-01\n"}, "file", "spend"),
    ("a bad kind", {"kind": "orders", "file": CUSTOMERS}, "kind", "Not a valid choice."),
]


@pytest.mark.parametrize("fields, field, message", [c[1:] for c in BAD_FORMS], ids=[c[0] for c in BAD_FORMS])
def test_a_bad_upload_shows_the_form_again_with_the_message_beside_its_field(
    dash, make, restaurant, fields, field, message
):
    body = {"restaurant": restaurant["id"], **fields}
    if "file" in body:
        body["file"] = (io.BytesIO(body["file"]), "guests.csv")

    response = dash.post(LIST, body, content_type="multipart/form-data")

    assert response.status_code == 200
    page = text_of(response)
    error = re.search(rf'<div class="invalid-feedback" id="{field}-error">([^<]*)</div>', page)
    assert error and message in error.group(1), page
    control = re.search(rf'<(?:input|select)[^>]*\bid="{field}"[^>]*>', page)
    assert control and 'aria-invalid="true"' in control.group(0), page
    assert make.get("/api/imports/")["count"] == 0


def test_an_upload_without_a_restaurant_or_its_security_token_is_refused(dash, make, restaurant):
    page = text_of(dash.post(LIST, upload(None, CUSTOMERS), content_type="multipart/form-data"))
    assert 'id="restaurant-error"' in page
    forged = dash.post(LIST, upload(restaurant, CUSTOMERS), csrf=False, content_type="multipart/form-data")
    assert forged.status_code == 400 and "security token" in text_of(forged)
    assert make.get("/api/imports/")["count"] == 0


def test_a_file_over_the_limit_is_refused_on_the_form(container, operator_account, make, restaurant):
    settings = dataclasses.replace(container.settings, max_body_bytes=1024, import_max_bytes=4096)
    app = create_app(settings, container)
    app.config["TESTING"] = True
    dash = DashboardClient(app.test_client())
    assert dash.log_in().status_code == 302
    rows = b"email\n" + b"".join(b"guest%04d@example.com\n" % n for n in range(120))  # over 1 KiB, under 4 KiB

    # Check a file over the common body limit but under the upload's is imported.
    assert dash.post(LIST, upload(restaurant, rows), content_type="multipart/form-data").status_code == 302
    # Check one over the upload's limit is answered by the form, saying so.
    response = dash.post(LIST, upload(restaurant, rows * 2), content_type="multipart/form-data")
    assert response.status_code == 413
    page = text_of(response)
    assert 'id="file-error">This file is too large: at most 4 KiB can be imported at once.' in page, page
    assert make.get("/api/imports/")["count"] == 1


def test_an_unknown_import_is_a_404(dash):
    missing = f"{LIST}{uuid.uuid4()}/"
    assert dash.get(missing).status_code == 404
    assert dash.get(missing + "rejections.csv").status_code == 404
    response = dash.get(missing + "progress.json")
    assert response.status_code == 404 and response.is_json


def test_the_same_file_again_leads_to_the_same_import(dash, container, restaurant):
    page = uploaded(dash, restaurant)
    container.application.continue_import(import_id_of(page))
    container.read_side.wait_for(container.runner.head())
    head = container.runner.head()

    assert uploaded(dash, restaurant) == page
    assert container.runner.head() == head
    assert "Import completed: 1 imported" in text_of(dash.get(page))


def test_an_imported_customers_page_shows_their_external_id(dash, container, restaurant):
    page = uploaded(dash, restaurant, b"email,external_id\nann@example.com,POS-17\nbob@example.com,\n")
    container.application.continue_import(import_id_of(page))
    container.read_side.wait_for(container.runner.head())
    found = {c["email"]: c["id"] for c in container.queries.customers(None, None, None, 1, 10, None).items}
    ann, bob = (
        text_of(dash.get(f"/internal/customers/{found[email]}/")) for email in ("ann@example.com", "bob@example.com")
    )
    assert "External id (set by an import): POS-17" in ann
    assert "External id" not in bob
