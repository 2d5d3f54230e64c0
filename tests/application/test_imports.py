"""CSV imports: every kind of bad row reported exactly, the good rows landed under the single
commands' rules, and a file imported again changing nothing."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from types import SimpleNamespace
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from eventsourcing.utils import get_topic
from sqlalchemy import create_engine, insert, select, text

from crm.adapters.personal_data import ENCRYPTED
from crm.adapters.uploads import import_uploads
from crm.bootstrap import MIGRATIONS, build
from crm.read_model.tables import customers as customers_table
from crm.write_model.customers import ERASED, Customer
from crm.write_model.errors import InvalidInput
from crm.write_model.imports import import_id
from crm.write_model.vocabulary import ImportKind

CUSTOMERS = ImportKind.CUSTOMERS
VISITS = ImportKind.VISITS


def csv_file(*lines: str, bom: bool = False) -> io.BytesIO:
    return io.BytesIO(("\ufeff" if bom else "").encode() + "".join(line + "\n" for line in lines).encode())


@pytest.fixture
def restaurant_id(application):
    return application.open_restaurant("Pizza Palace", "Europe/Paris", actor="admin")


@pytest.fixture
def run_import(application, container):
    """Import a file to the end; the import as the read side shows it, with its report."""

    def run(restaurant_id, kind, content, actor="key:ops"):
        import_id = application.start_import(restaurant_id, kind, "file.csv", content, actor=actor, scope=None)
        application.continue_import(import_id)
        found = container.import_queries.import_(import_id, None)
        found["report"] = list(container.import_queries.all_rejections(import_id))
        return found

    return run


def customers_of(container, restaurant_id) -> dict[str, dict]:
    page = container.queries.customers(None, restaurant_id, None, 1, 1000, None)
    return {c["email"]: c for c in page.items}


def test_a_customers_file_with_every_kind_of_bad_row_gives_the_exact_report(run_import, container, restaurant_id):
    imported = run_import(
        restaurant_id,
        CUSTOMERS,
        csv_file(
            "email,first_name,last_name,email_consent,external_id",
            "ann@example.com,Ann,Lee,,POS-1",
            "not-an-email,Bob,,,",
            ",Cat,,,",
            "ANN@example.com,Ann,Again,,",
            "dan@example.com,Dan,,maybe,",
            "eve@example.com,Eve,,,POS-1",
            "fay@example.com," + "F" * 201 + ",,,",
            "gus@example.com,Gus,,unsubscribed,POS-7",
            "hal@example.com,Hal,,,,extra",
        ),
    )
    assert imported["report"] == [
        {"line": 3, "field": "email", "reason": "invalid email"},
        {"line": 4, "field": "email", "reason": "missing email"},
        {"line": 5, "field": "email", "reason": "duplicate in file (first at line 2)"},
        {"line": 6, "field": "email_consent", "reason": "invalid email_consent: use subscribed or unsubscribed"},
        {"line": 7, "field": "external_id", "reason": "duplicate in file (first at line 2)"},
        {"line": 8, "field": "first_name", "reason": "invalid first_name: must be at most 200 characters"},
        {"line": 10, "field": "file", "reason": "more fields than the header has columns"},
    ]
    assert (imported["status"], imported["rows_total"], imported["rows_done"]) == ("completed", 9, 9)
    assert (imported["imported"], imported["updated"], imported["unchanged"], imported["rejected"]) == (2, 0, 0, 7)
    landed = customers_of(container, restaurant_id)
    assert set(landed) == {"ann@example.com", "gus@example.com"}
    assert (landed["ann@example.com"]["first_name"], landed["ann@example.com"]["external_id"]) == ("Ann", "POS-1")
    assert landed["gus@example.com"]["email_consent"] == "unsubscribed"


def test_a_visits_file_with_every_kind_of_bad_row_gives_the_exact_report(run_import, container, restaurant_id, clock):
    run_import(restaurant_id, CUSTOMERS, csv_file("email,external_id", "ann@example.com,POS-1", "bob@example.com,"))
    # A date is the restaurant's local midnight: two days on in Paris is in the future at any
    # hour (tomorrow's midnight in Paris is past from 23:00 UTC, or within the clock's skew).
    later = (clock().astimezone(ZoneInfo("Europe/Paris")) + timedelta(days=2)).date().isoformat()
    imported = run_import(
        restaurant_id,
        VISITS,
        csv_file(
            "email,external_id,spend,spend_cents,visited_at,external_visit_id",
            "ann@example.com,,12.50,,2026-03-01T19:30:00+01:00,T-1",
            ",POS-1,,990,2026-03-02,T-2",
            "nobody@example.com,,1.00,,2026-03-01,",
            ",POS-404,1.00,,2026-03-01,",
            "bob@example.com,,-3.00,,2026-03-01,",
            "bob@example.com,,,-300,2026-03-01,",
            "bob@example.com,,3.001,,2026-03-01,",
            f"bob@example.com,,3.00,,{later},",
            "bob@example.com,,3.00,,yesterday,",
            "bob@example.com,,3.00,,,",
            "bob@example.com,,,,2026-03-01,",
            ",,3.00,,2026-03-01,",
            "ann@example.com,,1.00,,2026-03-05,T-1",
            "bob@example.com,,4.00,,2026-03-03T12:00:00Z,",
            "BOB@example.com,,4.00,,2026-03-03T12:00:00Z,",
        ),
    )
    future = "date in the future"
    assert imported["report"] == [
        {"line": 4, "field": "email", "reason": "unknown customer"},
        {"line": 5, "field": "external_id", "reason": "unknown customer"},
        {"line": 6, "field": "spend", "reason": "negative spend"},
        {"line": 7, "field": "spend_cents", "reason": "negative spend"},
        {"line": 8, "field": "spend", "reason": "invalid spend: a decimal number with a dot, such as 12.50"},
        {"line": 9, "field": "visited_at", "reason": future},
        {
            "line": 10,
            "field": "visited_at",
            "reason": "invalid date: use ISO 8601, such as 2026-03-01T19:30:00+01:00 or 2026-03-01",
        },
        {"line": 11, "field": "visited_at", "reason": "missing visited_at"},
        {"line": 12, "field": "spend_cents", "reason": "missing spend_cents or spend"},
        {"line": 13, "field": "email", "reason": "missing email or external_id"},
        {"line": 14, "field": "external_visit_id", "reason": "duplicate in file (first at line 2)"},
        {"line": 16, "field": "visit", "reason": "duplicate in file (first at line 15)"},
    ]
    assert (imported["imported"], imported["unchanged"], imported["rejected"]) == (3, 0, 12)
    landed = customers_of(container, restaurant_id)
    ann, bob = landed["ann@example.com"], landed["bob@example.com"]
    assert (ann["visit_count"], ann["total_spend_cents"]) == (2, 1250 + 990)
    assert (bob["visit_count"], bob["total_spend_cents"]) == (1, 400)
    # A date without an offset is the restaurant's local midnight (Paris: UTC+1 in March).
    assert ann["last_visit_at"].isoformat() == "2026-03-01T23:00:00+00:00"


def test_importing_the_same_file_again_records_nothing(run_import, container, restaurant_id, application):
    customers = csv_file("email,first_name", "ann@example.com,Ann", "bob@example.com,Bob", "bad,Bad")
    visits = csv_file("email,spend,visited_at", "ann@example.com,10.00,2026-03-01", "bob@example.com,5,2026-03-02")
    first = run_import(restaurant_id, CUSTOMERS, customers)
    run_import(restaurant_id, VISITS, visits)
    head = application.recorder.head()
    again = run_import(restaurant_id, CUSTOMERS, customers)
    run_import(restaurant_id, VISITS, visits)
    assert application.recorder.head() == head
    assert again == first  # the same import, with the same report


def test_an_overlapping_file_matches_what_is_there(run_import, container, restaurant_id, application):
    run_import(restaurant_id, CUSTOMERS, csv_file("email,first_name,external_id", "ann@example.com,Ann,POS-1"))
    application.register_customer(restaurant_id, "bob@example.com", "Bob", actor="key:till", scope=None)
    run_import(
        restaurant_id,
        VISITS,
        csv_file("external_id,email,spend_cents,visited_at,external_visit_id", "POS-1,,100,2026-03-01,T-1"),
    )
    head = application.recorder.head()
    # Other files, rows already there: matched by email (any case), external id, visit id or the row itself.
    again = run_import(
        restaurant_id,
        CUSTOMERS,
        csv_file("email,first_name,external_id,extra column", "ANN@example.com,,POS-1,x", "bob@example.com,Bob,,y"),
    )
    visits = run_import(
        restaurant_id,
        VISITS,
        csv_file(
            "email,spend_cents,visited_at,external_visit_id",
            "ann@example.com,999,2026-03-09,T-1",  # the visit T-1 already: not changed
            "bob@example.com,300,2026-03-02T10:00:00Z,",
        ),
    )
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert (visits["imported"], visits["unchanged"]) == (1, 1)
    head = application.recorder.head()
    repeated = run_import(
        restaurant_id, VISITS, csv_file("email,spend,visited_at", "bob@example.com,3.00,2026-03-02T10:00:00Z")
    )
    assert (repeated["imported"], repeated["unchanged"]) == (0, 1)
    assert application.recorder.head() == head + 3  # the new import's own events only
    landed = customers_of(container, restaurant_id)
    assert (landed["ann@example.com"]["visit_count"], landed["ann@example.com"]["total_spend_cents"]) == (1, 100)


def test_existing_customers_take_new_names_and_unsubscribes_but_are_never_resubscribed(
    run_import, container, restaurant_id, application
):
    ann = application.register_customer(restaurant_id, "ann@example.com", "Ann", actor="key:till", scope=None)
    bob = application.register_customer(restaurant_id, "bob@example.com", "Bob", actor="key:till", scope=None)
    from crm.write_model.vocabulary import ConsentSource

    application.unsubscribe_customer(bob, source=ConsentSource.API, actor="key:till", scope=None)
    imported = run_import(
        restaurant_id,
        CUSTOMERS,
        csv_file(
            "email,first_name,last_name,email_consent",
            "ann@example.com,Annie,Lee,unsubscribed",
            "bob@example.com,,,subscribed",
        ),
    )
    assert (imported["imported"], imported["updated"], imported["unchanged"]) == (0, 1, 1)
    landed = customers_of(container, restaurant_id)
    assert (landed["ann@example.com"]["first_name"], landed["ann@example.com"]["last_name"]) == ("Annie", "Lee")
    assert landed["ann@example.com"]["email_consent"] == "unsubscribed"
    assert landed["bob@example.com"]["email_consent"] == "unsubscribed"
    assert landed["ann@example.com"]["id"] == ann


def test_an_erased_or_deleted_address_imports_as_a_new_customer_and_an_erased_one_unsubscribed(
    run_import, container, restaurant_id, application
):
    erased = application.register_customer(restaurant_id, "gone@example.com", "Gone", actor="key:till", scope=None)
    application.erase_customer(erased, actor="key:till", scope=None)
    deleted = application.register_customer(restaurant_id, "left@example.com", actor="key:till", scope=None)
    application.delete_customer(deleted, actor="key:till", scope=None)
    imported = run_import(
        restaurant_id, CUSTOMERS, csv_file("email,email_consent", "GONE@example.com,subscribed", "left@example.com,")
    )
    assert imported["imported"] == 2
    landed = customers_of(container, restaurant_id)
    assert landed["GONE@example.com"]["email_consent"] == "unsubscribed"  # the suppression list holds
    assert landed["left@example.com"]["email_consent"] == "subscribed"
    assert erased not in (landed["GONE@example.com"]["id"], landed["left@example.com"]["id"])


def test_a_new_customers_external_id_comes_in_its_registration_and_leaves_with_its_erasure(
    run_import, container, restaurant_id, application
):
    ann = application.register_customer(restaurant_id, "ann@example.com", "Ann", actor="key:till", scope=None)
    run_import(
        restaurant_id, CUSTOMERS, csv_file("email,external_id", "ann@example.com,POS-A", "carl@example.com,POS-C")
    )
    landed = customers_of(container, restaurant_id)
    carl = landed["carl@example.com"]["id"]
    assert (landed["ann@example.com"]["external_id"], landed["carl@example.com"]["external_id"]) == ("POS-A", "POS-C")
    # Check a new customer records one event, and a known one the assignment
    carl_story = application.customer_history(carl, scope=None)
    assert [(e["type"], e["data"].get("external_id")) for e in carl_story] == [("Registered", "POS-C")]
    ann_story = application.customer_history(ann, scope=None)
    assert [e["type"] for e in ann_story] == ["Registered", "ExternalIdAssigned"]
    assert "external_id" not in ann_story[0]["data"]  # registered without one
    # Check an erasure redacts it and lets another customer take it
    application.erase_customer(carl, actor="key:till", scope=None)
    assert application.customer_history(carl, scope=None)[0]["data"]["external_id"] == ERASED
    again = run_import(restaurant_id, CUSTOMERS, csv_file("email,external_id", "dora@example.com,POS-C"))
    assert (again["imported"], again["report"]) == (1, [])
    assert customers_of(container, restaurant_id)["dora@example.com"]["external_id"] == "POS-C"


def test_imported_events_name_the_import_and_who_started_it_and_keep_personal_data_encrypted(
    run_import, container, restaurant_id, application
):
    imported = run_import(restaurant_id, CUSTOMERS, csv_file("email,first_name", "ann@example.com,Ann"), "key:ops")
    [ann] = customers_of(container, restaurant_id).values()
    [registered] = application.recorder.select_events(ann["id"], limit=1)
    assert registered.topic == get_topic(Customer.Registered)
    assert registered.state[:1] == ENCRYPTED and b"ann@example.com" not in registered.state
    history = application.customer_history(ann["id"], scope=None)
    assert history[0]["actor"] == f"import {imported['id']} by key:ops"


def test_visits_of_another_restaurants_or_a_deleted_customer_are_unknown(
    run_import, container, restaurant_id, application
):
    other = application.open_restaurant("Taco Town", actor="admin")
    application.register_customer(other, "ann@example.com", actor="admin", scope=None)
    gone = application.register_customer(restaurant_id, "bob@example.com", actor="admin", scope=None)
    application.delete_customer(gone, actor="admin", scope=None)
    imported = run_import(
        restaurant_id,
        VISITS,
        csv_file("email,spend,visited_at", "ann@example.com,1,2026-03-01", "bob@example.com,1,2026-03-01"),
    )
    assert [r["reason"] for r in imported["report"]] == ["unknown customer", "unknown customer"]
    assert container.queries.customers(None, other, None, 1, 10, None).items[0]["visit_count"] == 0


def test_a_customer_deleted_after_the_batch_was_checked_is_refused_by_its_save(
    run_import, container, restaurant_id, application, monkeypatch
):
    # A batch's customers are checked before it waits for its turn, and its save looks only at
    # what the log gained since: a deletion in between must still refuse that customer's rows.
    ann = application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None)
    bob = application.register_customer(restaurant_id, "bob@example.com", actor="admin", scope=None)
    recorder = container.application.recorder
    checked_through = []

    def check_then_delete_bob(conditions):
        head = type(recorder).live_since_head(recorder, conditions)
        checked_through.append(head)
        if len(checked_through) == 1:
            application.delete_customer(bob, actor="admin", scope=None)
        return head

    monkeypatch.setattr(recorder, "live_since_head", check_then_delete_bob)
    # 80 visits: a save of more events than one round trip takes (the bulk path, on PostgreSQL).
    rows = [f"{who}@example.com,{day}.50,2026-03-{day:02d}" for who in ("ann", "bob") for day in range(1, 29)]
    rows += [f"{who}@example.com,{day}.75,2026-04-{day:02d}" for who in ("ann", "bob") for day in range(1, 13)]
    imported = run_import(restaurant_id, VISITS, csv_file("email,spend,visited_at", *rows))
    assert len(checked_through) == 2  # checked again once bob's rows were refused
    refused = {r["line"] for r in imported["report"] if r["reason"] == "unknown customer"}
    assert refused == {line for line, row in enumerate(rows, start=2) if row.startswith("bob@")}
    assert (imported["imported"], imported["rejected"]) == (40, 40)
    ann_row = container.queries.customers(None, restaurant_id, None, 1, 10, None).items[0]
    assert ann_row["id"] == ann and ann_row["visit_count"] == 40
    assert not container.application.recorder.owned_streams(bob)  # none of bob's visits saved


def test_a_batch_of_visits_adds_to_each_customers_totals_and_keeps_their_later_visits(
    run_import, container, restaurant_id, application
):
    # Twelve customers in one batch: their totals in one statement (PostgreSQL); one of them
    # visited later already, and another earlier, than the file's visits.
    people = [f"guest{n}@example.com" for n in range(12)]
    ids = {email: application.register_customer(restaurant_id, email, actor="admin", scope=None) for email in people}
    application.record_visit(ids[people[0]], 500, datetime(2026, 5, 1, 12, tzinfo=UTC), actor="admin", scope=None)
    application.record_visit(ids[people[1]], 700, datetime(2026, 1, 1, 12, tzinfo=UTC), actor="admin", scope=None)
    rows = [f"{email},{n + 1}.25,2026-03-{n + 1:02d}T19:30:00+01:00" for n, email in enumerate(people)]
    rows += [f"{email},2.00,2026-04-{n + 1:02d}T08:00:00+00:00" for n, email in enumerate(people)]
    imported = run_import(restaurant_id, VISITS, csv_file("email,spend,visited_at", *rows))
    assert (imported["imported"], imported["rejected"]) == (24, 0)

    container.read_side.wait_for(container.runner.head())
    with container.engine.connect() as connection:
        totals = customers_table.c.visit_count, customers_table.c.total_spend_cents
        times = customers_table.c.first_visit_at, customers_table.c.last_visit_at
        found = {row.id: row for row in connection.execute(select(customers_table.c.id, *totals, *times)).all()}
    for n, email in enumerate(people):
        march, april = datetime(2026, 3, n + 1, 18, 30, tzinfo=UTC), datetime(2026, 4, n + 1, 8, tzinfo=UTC)
        visits, spend, first, last = 2, (n + 1) * 100 + 25 + 200, march, april
        if n == 0:
            visits, spend, last = 3, spend + 500, datetime(2026, 5, 1, 12, tzinfo=UTC)
        if n == 1:
            visits, spend, first = 3, spend + 700, datetime(2026, 1, 1, 12, tzinfo=UTC)
        customer = found[ids[email]]
        assert (customer.visit_count, customer.total_spend_cents) == (visits, spend), email
        assert (_utc(customer.first_visit_at), _utc(customer.last_visit_at)) == (first, last), email


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # SQLite keeps no zone


def test_bom_semicolons_quotes_and_fields_over_several_lines_are_read(run_import, container, restaurant_id):
    imported = run_import(
        restaurant_id,
        CUSTOMERS,
        csv_file(
            "Email;First_Name;last_name",
            '"ann@example.com";"Ann; the first";"Lee ""Junior"""',
            'bad;"two',
            'lines";x',
            "'=cmd@example.com;'+Plus;'-Minus",
            bom=True,
        ),
    )
    assert imported["report"] == [{"line": 3, "field": "email", "reason": "invalid email"}]
    landed = customers_of(container, restaurant_id)
    assert (landed["ann@example.com"]["first_name"], landed["ann@example.com"]["last_name"]) == (
        "Ann; the first",
        'Lee "Junior"',
    )
    # An exported cell protected against spreadsheet formulas imports as it was.
    assert (landed["=cmd@example.com"]["first_name"], landed["=cmd@example.com"]["last_name"]) == ("+Plus", "-Minus")


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        (CUSTOMERS, b"", "is empty"),
        (CUSTOMERS, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not UTF-8"),
        (CUSTOMERS, b'{"email": "ann@example.com"}\n', "lacks the required column(s) email"),
        (CUSTOMERS, b"first_name,last_name\nAnn,Lee\n", "lacks the required column(s) email"),
        (CUSTOMERS, b"email,Email\na@x.com,b@x.com\n", "names a column twice: email"),
        (VISITS, b"email,visited_at\na@x.com,2026-01-01\n", "lacks the required column(s) spend_cents or spend"),
        (CUSTOMERS, b'email\n"unclosed\n', "is not a readable CSV"),
    ],
)
def test_a_file_that_is_not_such_a_csv_is_refused_whole_at_once(application, restaurant_id, kind, content, message):
    head = application.recorder.head()
    with pytest.raises(InvalidInput) as refused:
        application.start_import(restaurant_id, kind, "f.csv", io.BytesIO(content), actor="key:ops", scope=None)
    assert refused.value.field == "file"
    assert message in refused.value.message
    assert application.recorder.head() == head


def test_an_import_into_another_restaurant_or_none_is_refused(application, container, restaurant_id):
    other = application.open_restaurant("Taco Town", actor="admin")
    with pytest.raises(InvalidInput):
        application.start_import(other, CUSTOMERS, "f.csv", csv_file("email"), actor="key:ops", scope=restaurant_id)
    application.delete_restaurant(other, actor="admin", scope=None)
    with pytest.raises(InvalidInput) as refused:
        application.start_import(other, CUSTOMERS, "f.csv", csv_file("email"), actor="admin", scope=None)
    assert (refused.value.field, refused.value.message) == ("restaurant", "no such restaurant")
    assert container.application.uploads.open(import_id(other, CUSTOMERS, sha256(b"email\n").hexdigest())) is None


def exported(container, restaurant_id, bom: bool = False) -> bytes:
    from crm import csv_format

    found = container.export_queries.customers(None, restaurant_id, None, None, container.clock())
    return b"".join(csv_format.chunks(found.columns, found.rows, bom=bom))


def test_an_export_imports_back_unchanged(run_import, container, application, restaurant_id):
    # Names a spreadsheet would run as formulas, quotes, semicolons, consent both ways.
    run_import(
        restaurant_id,
        CUSTOMERS,
        csv_file(
            "email,first_name,last_name,email_consent,external_id",
            'ann@example.com,=HYPERLINK("x"),"Lee, ""Jr""",subscribed,POS-1',
            "bob@example.com,+1,-2,unsubscribed,@POS-2",
            'dan@example.com,"semi;colon",;,,',
        ),
    )
    application.register_customer(restaurant_id, "cat@example.com", "'=quoted", "'", actor="key:till", scope=None)
    other = application.open_restaurant("Taco Town", "Europe/Paris", actor="admin")
    imported = run_import(other, CUSTOMERS, io.BytesIO(exported(container, restaurant_id, bom=True)))
    assert (imported["imported"], imported["rejected"]) == (4, 0)

    def portable(customer: dict) -> tuple:
        keys = ("email", "first_name", "last_name", "email_consent", "external_id", "visit_count")
        return tuple(customer[key] for key in keys)

    source, copy = customers_of(container, restaurant_id), customers_of(container, other)
    assert sorted(map(portable, copy.values())) == sorted(map(portable, source.values()))
    assert source["cat@example.com"]["first_name"] == "'=quoted"
    # Check the copy's export is the source's, but for the ids and times.
    assert exported(container, other).count(b"\n") == exported(container, restaurant_id).count(b"\n") == 5


def test_a_run_with_a_time_limit_imports_for_four_times_as_long_as_reading_the_done_rows_again_took(
    application, restaurant_id, monkeypatch
):
    """A run reads the rows done before it again (a later row may repeat one of them): a few
    seconds' run into a long file must not spend them all reading."""
    from crm.write_model import import_files, importing

    monkeypatch.setattr(importing, "IMPORT_BATCH_ROWS", 2)
    rows = ["email"] + [f"guest{n}@example.com" for n in range(40)]
    import_id = application.start_import(restaurant_id, CUSTOMERS, "file.csv", csv_file(*rows), actor="k", scope=None)
    application.continue_import(import_id, seconds=0)
    assert application.import_progress(import_id)["done"] == 2  # one batch, then the time is up

    now = [0.0]  # a clock that moves one second for each row read, and only then
    read_rows = import_files.read_rows

    def slow_rows(*args):
        for row in read_rows(*args):
            now[0] += 1
            yield row

    monkeypatch.setattr(import_files, "read_rows", slow_rows)
    monkeypatch.setattr(importing, "time", SimpleNamespace(monotonic=lambda: now[0]))
    application.continue_import(import_id, seconds=0)
    # Its first new batch was ready after 4 s (2 rows read again, 2 new ones), so the run goes
    # on for 16 s more, to the batch that ends after them: 20 rows read, 18 of them new.
    assert application.import_progress(import_id) == {"rows": 40, "done": 20, "through": 21, "status": "running"}


def test_processes_handed_their_batches_import_the_file_as_one_does_without_reading_it(
    application, container, restaurant_id, monkeypatch
):
    """`crm import` reads the file once (`import_batches`) and hands each of its processes its
    batches whole and, of the others', the last row (where each ends)."""
    from crm.write_model import importing

    monkeypatch.setattr(importing, "IMPORT_BATCH_ROWS", 2)
    lines = [
        "email,first_name",
        *(f"guest{n}@example.com,Guest {n}" for n in range(6)),
        "bad,Bad",
        "guest1@example.com,Again",
    ]
    import_id = application.start_import(restaurant_id, CUSTOMERS, "file.csv", csv_file(*lines), actor="k", scope=None)
    batches = list(application.import_batches(import_id, 0))
    assert [[row.line for row in rows] for rows in batches] == [[2, 3], [4, 5], [6, 7], [8, 9]]
    assert [[row.line for row in rows] for rows in application.import_batches(import_id, 5)] == [[6, 7], [8, 9]]
    application.uploads.delete(import_id)  # the processes never read it
    with pytest.raises(FileNotFoundError):
        list(application.import_batches(import_id, 0))

    failures = []

    def share(index: int) -> None:  # a process of its own: an application of its own
        handed = [rows if number % 2 == index else rows[-1:] for number, rows in enumerate(batches)]
        own = build(container.settings)
        try:
            own.application.continue_import(
                import_id, share=importing.ImportShare(index, 2, 0, alive=lambda: True, batches=iter(handed))
            )
        except Exception as error:  # reported by the assertion below
            failures.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=share, args=(index,)) for index in (1, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert application.import_progress(import_id) == {"rows": 8, "done": 8, "through": 9, "status": "completed"}
    container.read_side.wait_for(container.runner.head())
    found = container.import_queries.import_(import_id, None)
    assert (found["imported"], found["rejected"]) == (6, 2)
    assert [(r["line"], r["field"]) for r in container.import_queries.all_rejections(import_id)] == [
        (8, "email"),
        (9, "email"),
    ]
    assert list(application.import_batches(import_id, 0)) == []  # ended: nothing to hand out
    assert sorted(customers_of(container, restaurant_id)) == [f"guest{n}@example.com" for n in range(6)]


def test_the_files_of_ended_imports_still_kept_are_let_go_and_no_other(application, container, restaurant_id, clock):
    uploads = container.application.uploads
    ended = application.start_import(
        restaurant_id, CUSTOMERS, "a.csv", csv_file("email", "ann@example.com"), actor="key:ops", scope=None
    )
    application.continue_import(ended)
    # A runner stopped between the import's end and its file's deletion: the file stays behind.
    uploads.put(ended, csv_file("email", "ann@example.com"), clock())
    running = application.start_import(
        restaurant_id, CUSTOMERS, "b.csv", csv_file("email", "bob@example.com"), actor="key:ops", scope=None
    )
    # A start that stopped before its save: its import never reaches the log.
    unsaved = import_id(restaurant_id, CUSTOMERS, "0" * 64)
    uploads.put(unsaved, csv_file("email"), clock())

    assert container.application.let_go_of_ended_imports_files() == [ended]

    assert uploads.open(ended) is None
    assert sorted(uploads.kept()) == sorted([running, unsaved])
    assert container.application.let_go_of_ended_imports_files() == []
    # Stored just under an hour ago, the unsaved start's file may still be saving: it stays;
    # past the hour it goes. A running import's file stays however old.
    clock.advance(minutes=59)
    assert container.application.let_go_of_ended_imports_files() == []
    clock.advance(minutes=2)
    assert container.application.let_go_of_ended_imports_files() == [unsaved]
    assert uploads.open(unsaved) is None
    assert list(uploads.kept()) == [running]


def test_a_file_kept_before_its_time_was_recorded_counts_from_the_default(container):
    # Files stored by a version that did not record the time get the database's (the migration's
    # default): a time the sweep can compare, in UTC, on either database.
    stored = uuid4()
    with container.engine.begin() as connection:
        connection.execute(insert(import_uploads), {"import_id": stored, "part": 0, "data": b"email\n"})
    kept = container.application.uploads.kept()
    assert abs(kept[stored] - datetime.now(UTC)) < timedelta(minutes=1)


def test_migration_0020_dates_the_files_already_kept(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'upgrade.sqlite3'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    kept = uuid4()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0019")
        connection.execute(
            text("INSERT INTO import_uploads (import_id, part, data) VALUES (:id, 0, :data)"),
            {"id": kept.hex, "data": b"email\n"},
        )
        command.upgrade(config, "0020")
    with engine.connect() as connection:
        stored_at = connection.execute(select(import_uploads.c.stored_at)).scalar_one()
    engine.dispose()
    assert abs(stored_at - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
