"""CSV imports through the API: upload (multipart), progress, the report as JSON and CSV, the
refusals of a bad upload, tenancy, the same file again, and the upload's own body limit."""

from __future__ import annotations

import dataclasses
import http.client
import io
import json
import time
import uuid

import pytest

from crm.http import create_app
from tests.conftest import ApiClient
from tests.e2e.e2e_support import assert_error, assert_invalid, ids

IMPORT_FIELDS = {
    "id",
    "restaurant",
    "restaurant_name",
    "kind",
    "filename",
    "status",
    "error",
    "rows_total",
    "rows_done",
    "percent",
    "imported",
    "updated",
    "unchanged",
    "rejected",
    "started_by",
    "created_at",
    "updated_at",
    "finished_at",
}
CUSTOMERS = (
    b"email,first_name,last_name,email_consent,external_id\n"
    b"ann@example.com,Ann,Lee,subscribed,A-1\n"
    b"bob@example.com,Bob,,unsubscribed,\n"
    b"not-an-email,Nobody,,,\n"
    b"\n"
    b"ann@example.com,Ann again,,,\n"
)
CUSTOMER_REJECTIONS = [
    {"line": 4, "field": "email", "reason": "invalid email"},
    {"line": 6, "field": "email", "reason": "duplicate in file (first at line 2)"},
]
# UTF-8 with a BOM, semicolons, quoted fields; dates in the restaurant's zone (Europe/Paris) or with an offset.
VISITS = (
    "\ufeffemail;spend;visited_at;external_visit_id\n"
    'ann@example.com;"12.50";2024-03-01;v-1\n'
    "bob@example.com;7;2024-03-02T19:30:00+01:00;\n"
    "ghost@example.com;1;2024-03-01;\n"
    "ann@example.com;-3;2024-03-01;\n"
    "bob@example.com;1;2999-01-01;\n"
).encode()
VISIT_REJECTIONS = [
    {"line": 4, "field": "email", "reason": "unknown customer"},
    {"line": 5, "field": "spend", "reason": "negative spend"},
    {"line": 6, "field": "visited_at", "reason": "date in the future"},
]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.fixture
def paris(make) -> dict:
    return make.restaurant("Bistro", timezone="Europe/Paris")


def run_to_the_end(container, imported: dict) -> None:
    """What the worker does with an import (no worker runs here), then the read side caught up."""
    container.application.continue_import(uuid.UUID(imported["id"]))
    container.read_side.wait_for(container.runner.head())


def rejections_csv(api, imported: dict, **query) -> tuple[str, bytes]:
    response = api.get(f"/api/imports/{imported['id']}/rejections.csv", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.headers["Content-Type"], response.get_data()


def form(restaurant: dict | None, content: bytes | None, kind: str = "customers", **fields) -> dict:
    body: dict = {"kind": kind, **fields}
    if content is not None:
        body["file"] = (io.BytesIO(content), "rows.csv")
    if restaurant is not None:
        body["restaurant"] = restaurant["id"]
    return body


def test_customers_then_visits_are_imported_with_their_counts_and_reports(admin, make, container, paris):
    # Check the upload is answered at once with the import, where it starts, and its address.
    response = admin.post("/api/imports/", data=form(paris, CUSTOMERS))
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    assert set(started) == IMPORT_FIELDS
    assert response.headers["Location"] == f"/api/imports/{started['id']}/"
    assert {k: started[k] for k in ("restaurant", "kind", "filename", "status", "rows_total", "rows_done")} == {
        "restaurant": paris["id"],
        "kind": "customers",
        "filename": "rows.csv",
        "status": "running",
        "rows_total": 4,
        "rows_done": 0,
    }
    assert (started["percent"], started["started_by"], started["finished_at"]) == (0, "admin-test", None)
    assert make.get(response.headers["Location"]) == started

    # Check the rows are imported: two customers, two rows rejected, each with its line and reason.
    run_to_the_end(container, started)
    done = make.get(f"/api/imports/{started['id']}/")
    assert {k: done[k] for k in ("status", "rows_done", "percent", "imported", "updated", "unchanged", "rejected")} == {
        "status": "completed",
        "rows_done": 4,
        "percent": 100,
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 2,
    }
    assert done["finished_at"] is not None
    report = make.get(f"/api/imports/{started['id']}/rejections/")
    assert report == {"count": 2, "next": None, "previous": None, "results": CUSTOMER_REJECTIONS}
    content_type, data = rejections_csv(admin, done)
    assert content_type == "text/csv; charset=utf-8"
    assert data == b"line,field,reason\r\n4,email,invalid email\r\n6,email,duplicate in file (first at line 2)\r\n"
    customers = make.get("/api/customers/", query_string={"restaurant_id": paris["id"]})["results"]
    assert {(c["email"], c["first_name"], c["email_consent"]) for c in customers} == {
        ("ann@example.com", "Ann", "subscribed"),
        ("bob@example.com", "Bob", "unsubscribed"),
    }

    # Check the visits land on those customers, dates read in the restaurant's time zone.
    visits = make.upload(paris, "visits", VISITS, filename="visits.csv")
    run_to_the_end(container, visits)
    done = make.get(f"/api/imports/{visits['id']}/")
    assert (done["status"], done["rows_total"], done["imported"], done["rejected"]) == ("completed", 5, 2, 3)
    assert make.get(f"/api/imports/{visits['id']}/rejections/")["results"] == VISIT_REJECTIONS
    _, data = rejections_csv(admin, done, bom="true")
    assert data.startswith(b"\xef\xbb\xbfline,field,reason\r\n4,email,unknown customer\r\n")
    by_email = {
        c["email"]: c for c in make.get("/api/customers/", query_string={"restaurant_id": paris["id"]})["results"]
    }
    assert (by_email["ann@example.com"]["total_spend_cents"], by_email["ann@example.com"]["visit_count"]) == (1250, 1)
    assert by_email["ann@example.com"]["last_visit_at"] == "2024-02-29T23:00:00+00:00"
    assert by_email["bob@example.com"]["last_visit_at"] == "2024-03-02T18:30:00+00:00"


def test_an_import_runs_to_completion_in_the_embedded_worker(admin, make, paris, embedded):
    imported = make.upload(paris, "customers", CUSTOMERS)

    deadline = time.monotonic() + 20
    while (current := make.get(f"/api/imports/{imported['id']}/"))["status"] == "running":
        assert time.monotonic() < deadline, current
        time.sleep(0.05)

    assert (current["status"], current["imported"], current["rejected"], current["percent"]) == ("completed", 2, 2, 100)


def test_progress_is_counted_batch_by_batch(make, container, paris, monkeypatch):
    monkeypatch.setattr("crm.write_model.importing.IMPORT_BATCH_ROWS", 2)
    rows = "".join(f"guest{n}@example.com\n" for n in range(5))
    imported = make.upload(paris, "customers", f"email\n{rows}".encode())

    # Check one batch (two of five rows) is 40 %, and the import still runs.
    container.application.continue_import(uuid.UUID(imported["id"]), seconds=0)
    container.read_side.wait_for(container.runner.head())
    current = make.get(f"/api/imports/{imported['id']}/")
    assert (current["status"], current["rows_done"], current["percent"], current["imported"]) == ("running", 2, 40, 2)

    run_to_the_end(container, imported)
    current = make.get(f"/api/imports/{imported['id']}/")
    assert (current["status"], current["rows_done"], current["percent"], current["imported"]) == (
        "completed",
        5,
        100,
        5,
    )


def test_rejections_are_paged_and_imports_listed_newest_first(admin, make, container, paris, clock):
    first = make.upload(paris, "customers", CUSTOMERS)
    run_to_the_end(container, first)
    clock.advance(seconds=1)
    other = make.restaurant("Trattoria")
    second = make.upload(other, "customers", b"email\nzoe@example.com\n")

    page = make.get(f"/api/imports/{first['id']}/rejections/", query_string={"page_size": 1})
    assert (page["count"], page["results"], page["previous"]) == (2, CUSTOMER_REJECTIONS[:1], None)
    assert make.get(page["next"])["results"] == CUSTOMER_REJECTIONS[1:]
    listed = make.get("/api/imports/")
    assert (listed["count"], ids(listed)) == (2, [second["id"], first["id"]])
    assert ids(make.get("/api/imports/", query_string={"restaurant_id": paris["id"]})) == [first["id"]]
    assert listed["results"][1]["status"] == "completed"


def test_the_same_file_again_is_the_same_import_and_records_nothing(admin, make, container, paris):
    first = make.upload(paris, "customers", CUSTOMERS)
    head = container.runner.head()

    # Check, while it runs and once it is done, the same bytes answer the same import.
    again = make.upload(paris, "customers", CUSTOMERS, filename="renamed.csv")
    assert again == first
    assert container.runner.head() == head
    run_to_the_end(container, first)
    head = container.runner.head()
    done = make.upload(paris, "customers", CUSTOMERS)
    assert (done["id"], done["status"], done["imported"]) == (first["id"], "completed", 2)
    assert container.runner.head() == head
    # Check the same file as visits, or for another restaurant, is another import.
    other = make.upload(make.restaurant("Trattoria"), "customers", CUSTOMERS)
    assert other["id"] != first["id"]
    assert make.get("/api/imports/")["count"] == 2


# (case, the form's fields (a bytes value is sent as a file), the field the 400 names)
BAD_UPLOADS = [
    ("no file", {"kind": "customers"}, "file"),
    ("a PNG", {"kind": "customers", "file": PNG}, "file"),
    ("not UTF-8", {"kind": "customers", "file": "email\ncaf\xe9@example.com\n".encode("latin-1")}, "file"),
    ("an empty file", {"kind": "customers", "file": b""}, "file"),
    ("no email column", {"kind": "customers", "file": b"name,phone\nAnn,123\n"}, "file"),
    ("visits without visited_at", {"kind": "visits", "file": b"email,spend\nann@example.com,1\n"}, "file"),
    ("visits without spend", {"kind": "visits", "file": b"external_id,visited_at\nA-1,2024-01-01\n"}, "file"),
    ("a column named twice", {"kind": "customers", "file": b"email,Email\na@example.com,b@example.com\n"}, "file"),
    ("a bad kind", {"kind": "orders", "file": CUSTOMERS}, "kind"),
    ("no kind", {"file": CUSTOMERS}, "kind"),
    ("a file as a plain field", {"kind": "customers", "file": "email\na@example.com\n"}, "file"),
    ("a restaurant that is not a UUID", {"kind": "customers", "file": CUSTOMERS, "restaurant": "pizza"}, "restaurant"),
    ("an unknown field", {"kind": "customers", "file": CUSTOMERS, "colour": "blue"}, "colour"),
]


@pytest.mark.parametrize("fields, field", [case[1:] for case in BAD_UPLOADS], ids=[case[0] for case in BAD_UPLOADS])
def test_a_bad_upload_is_a_400_naming_its_field_and_records_nothing(admin, container, paris, fields, field):
    body = {"restaurant": paris["id"], **fields}
    if isinstance(body.get("file"), bytes):
        body["file"] = (io.BytesIO(body["file"]), "rows.csv")
    head = container.runner.head()

    refused = assert_invalid(admin.post("/api/imports/", data=body), field)

    assert container.runner.head() == head
    assert admin.get("/api/imports/").get_json()["count"] == 0
    assert set(refused["errors"]) <= {"file", "kind", "restaurant", "colour"}


def test_a_json_body_or_none_is_a_400_asking_for_the_file_and_kind(admin):
    for response in (
        admin.post("/api/imports/", json={"kind": "customers", "file": "email\na@example.com\n"}),
        admin.post("/api/imports/"),
    ):
        assert set(assert_invalid(response, "file", "kind")["errors"]) <= {"file", "kind", "restaurant"}


def test_an_admin_key_names_the_restaurant_a_restaurant_key_may_leave_it_out(admin, make, key_of, paris):
    assert_invalid(admin.post("/api/imports/", data=form(None, CUSTOMERS)), "restaurant")
    own = make.upload(None, "customers", CUSTOMERS, api=key_of(paris))
    assert (own["restaurant"], own["status"]) == (paris["id"], "running")


def test_another_restaurants_imports_are_not_found(admin, make, key_of, paris):
    theirs = make.upload(make.restaurant("Trattoria"), "customers", CUSTOMERS)
    mine = make.upload(paris, "customers", b"email\nann@example.com\n")
    key = key_of(paris)

    # Check every route with an import's id answers 404 for another restaurant's, as for no import.
    for path in ("/", "/rejections/", "/rejections.csv"):
        for import_id in (theirs["id"], str(uuid.uuid4())):
            assert_error(key.get(f"/api/imports/{import_id}{path}"), 404)
        assert key.get(f"/api/imports/{mine['id']}{path}").status_code == 200
    # Check its list holds its own only, whatever it filters on.
    assert ids(key.get("/api/imports/").get_json()) == [mine["id"]]
    assert key.get("/api/imports/", query_string={"restaurant_id": theirs["restaurant"]}).get_json()["count"] == 0
    # Check it cannot import into another restaurant (refused like a restaurant that does not exist).
    foreign = key.post("/api/imports/", data=form({"id": theirs["restaurant"]}, b"email\nspy@example.com\n"))
    unknown = key.post("/api/imports/", data=form({"id": str(uuid.uuid4())}, b"email\nspy@example.com\n"))
    assert_invalid(foreign, "restaurant")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    assert admin.get("/api/imports/").get_json()["count"] == 2


def test_an_unknown_restaurant_is_refused_like_in_every_create(admin):
    for path, body in (
        ("/api/customers/", {"json": {"restaurant": str(uuid.uuid4()), "email": "a@example.com"}}),
        ("/api/imports/", {"data": form({"id": str(uuid.uuid4())}, CUSTOMERS)}),
    ):
        assert assert_invalid(admin.post(path, **body), "restaurant")["errors"]["restaurant"] == ["no such restaurant"]


def test_without_a_key_it_is_a_401(client):
    response = client.post("/api/imports/", data=form(None, CUSTOMERS))
    assert_error(response, 401)
    assert_error(client.get("/api/imports/"), 401)


@pytest.fixture
def small_limits(container):
    """An app whose JSON bodies may be 1 KiB and uploads 4 KiB."""
    settings = dataclasses.replace(container.settings, max_body_bytes=1024, import_max_bytes=4096)
    app = create_app(settings, container)
    app.config["TESTING"] = True
    return ApiClient(app.test_client(), container.api_keys.issue("small-limits", None))


def test_an_upload_over_its_own_limit_is_a_413_while_other_bodies_keep_theirs(small_limits, make, paris):
    rows = b"email\n" + b"".join(b"guest%04d@example.com\n" % n for n in range(120))  # 2,646 bytes
    assert 1024 < len(rows) < 4096 - 400  # (the multipart framing adds a few hundred bytes)

    # Check a file over the common limit but under the upload's is accepted, a JSON body of its size is not.
    assert small_limits.post("/api/imports/", data=form(paris, rows)).status_code == 202
    assert_error(small_limits.post("/api/restaurants/", json={"name": "x" * 2000}), 413)
    # Check a file over the upload's limit is a 413 in the contract's shape.
    body = assert_error(small_limits.post("/api/imports/", data=form(paris, rows * 2)), 413)
    assert body["message"]


def test_openapi_documents_the_multipart_upload_and_the_csv_report(client):
    spec = client.get("/api/openapi.json").get_json()
    post = spec["paths"]["/api/imports/"]["post"]
    body = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    upload = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert upload["required"] == ["file", "kind"]
    assert upload["properties"]["file"]["format"] == "binary"
    assert upload["properties"]["kind"]["enum"] == ["customers", "visits"]
    assert {"202", "400", "413"} <= set(post["responses"]) and "Location" in post["responses"]["202"]["headers"]
    report = spec["paths"]["/api/imports/{import_id}/rejections.csv"]["get"]
    assert "text/csv" in report["responses"]["200"]["content"]
    assert "404" in report["responses"]


def test_a_file_of_several_mebibytes_is_imported_through_the_real_server_and_the_connection_reused(served):
    """Over the common body limit (1 MiB) and the drained size (4 MiB): read whole, then answered."""
    port, key = served
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/restaurants/", body=json.dumps({"name": "Big file"}), headers=headers)
        restaurant = json.loads(conn.getresponse().read())
        rows = b"email,first_name\n" + b"".join(b"guest%06d@example.com,Guest\n" % n for n in range(200_000))
        assert len(rows) > 5 * 2**20
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncustomers\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="restaurant"\r\n\r\n{restaurant["id"]}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
            ).encode()
            + rows
            + f"\r\n--{boundary}--\r\n".encode()
        )

        multipart = {**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        conn.request("POST", "/api/imports/", body=body, headers=multipart)
        response = conn.getresponse()
        started = json.loads(response.read())

        assert response.status == 202, started
        assert (started["rows_total"], started["filename"], started["status"]) == (200_000, "big.csv", "running")
        # Check the same connection (or a clean new one, after Connection: close) serves the next request.
        conn.request("GET", response.getheader("Location"), headers=headers)
        assert conn.getresponse().status == 200
    finally:
        conn.close()
