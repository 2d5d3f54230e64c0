"""Outreach records: /api/campaigns/{id}/events/, /api/outreach-events/ and /api/outreach-events/{id}/.

Records are queued and given their outcomes through the application, as a worker would, so
every status is present without timing a real run.
"""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.commands import Caller
from tests.e2e.e2e_support import (
    OUTREACH_FIELDS,
    PAGE_FIELDS,
    assert_error,
    assert_invalid,
    ids,
    queue_outreach,
    when,
)

WORKER = "worker"


@pytest.fixture
def world(make, container, restaurant, clock):
    """A campaign with one record of each status, and a second campaign with two queued ones."""
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(4)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant, name="Spring")
    records = queue_outreach(make, container, campaign, guests)
    sent_at = clock.advance(minutes=1)
    queued, sent, failed, skipped = records
    sent.record_sent(2, WORKER, clock.now)
    failed.record_failed(3, "gave up after 3 attempts: timeout", WORKER, clock.now)
    skipped.skip("customer removed since the campaign started", WORKER, clock.now)
    Caller(container).record_outcomes([sent, failed, skipped])
    clock.advance(minutes=1)
    later = make.campaign(restaurant, name="Summer")
    later_records = queue_outreach(make, container, later, guests[:2])
    return {
        "guests": guests,
        "campaign": campaign,
        "later": later,
        "by_status": {"queued": queued, "sent": sent, "failed": failed, "skipped": skipped},
        "later_records": later_records,
        "sent_at": sent_at,
    }


def rows_by_id(page: dict) -> dict[str, dict]:
    return {row["id"]: row for row in page["results"]}


def test_a_campaigns_events_have_every_field(make, world):
    campaign = world["campaign"]
    page = make.get(f"/api/campaigns/{campaign['id']}/events/")

    assert set(page) == PAGE_FIELDS
    assert (page["count"], page["next"], page["previous"]) == (4, None, None)
    rows = rows_by_id(page)
    emails = {g["id"]: g["email"] for g in world["guests"]}
    created_at = when(make.get(f"/api/campaigns/{campaign['id']}/")["started_at"])
    expected = {
        "queued": (0, None, None),
        "sent": (2, None, world["sent_at"]),
        "failed": (3, "gave up after 3 attempts: timeout", None),
        "skipped": (0, "customer removed since the campaign started", None),
    }
    for status, record in world["by_status"].items():
        row = rows[str(record.id)]
        assert set(row) == OUTREACH_FIELDS
        assert (row["campaign"], row["campaign_name"]) == (campaign["id"], "Spring")
        assert (row["customer"], row["customer_email"]) == (str(record.customer_id), emails[row["customer"]])
        assert (row["channel"], row["status"]) == ("email", status)
        attempts, error, sent_at = expected[status]
        assert (row["attempts"], row["error_message"], when(row["sent_at"])) == (attempts, error, sent_at), status
        assert when(row["created_at"]) == created_at


def test_the_campaigns_stats_count_its_records_by_status(make, world):
    campaign = make.get(f"/api/campaigns/{world['campaign']['id']}/")
    later = make.get(f"/api/campaigns/{world['later']['id']}/")

    assert campaign["stats"] == {
        "audience": 4,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 1,
        "sent": 1,
        "failed": 1,
        "skipped": 1,
    }
    assert later["stats"] == {
        "audience": 2,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 2,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
    }
    # Check neither is complete while records are open.
    assert (campaign["status"], later["status"]) == ("running", "running")


def test_a_campaigns_events_filter_by_status(make, world):
    path = f"/api/campaigns/{world['campaign']['id']}/events/"

    for status, record in world["by_status"].items():
        page = make.get(path, query_string={"status": status})
        assert (page["count"], ids(page)) == (1, [str(record.id)]), status
    # Check the second campaign's records are its own.
    later = make.get(f"/api/campaigns/{world['later']['id']}/events/")
    assert sorted(ids(later)) == sorted(str(r.id) for r in world["later_records"])
    assert make.get(f"/api/campaigns/{world['later']['id']}/events/", query_string={"status": "sent"})["count"] == 0


def test_every_outreach_is_listed_newest_first(make, world):
    page = make.get("/api/outreach-events/")

    assert set(page) == PAGE_FIELDS
    assert page["count"] == 6
    # Check the newer campaign's records come first, and ties are broken by id, descending.
    later = sorted((str(r.id) for r in world["later_records"]), reverse=True)
    earlier = sorted((str(r.id) for r in world["by_status"].values()), reverse=True)
    assert ids(page) == later + earlier
    # Check a campaign's list and the global one give the same rows.
    campaign_page = make.get(f"/api/campaigns/{world['campaign']['id']}/events/")
    assert campaign_page["results"] == page["results"][2:]


def test_outreach_filters_by_campaign_and_status(make, world):
    campaign, later = world["campaign"]["id"], world["later"]["id"]
    cases = {
        (campaign, None): sorted(str(r.id) for r in world["by_status"].values()),
        (later, None): sorted(str(r.id) for r in world["later_records"]),
        (None, "queued"): sorted([str(world["by_status"]["queued"].id), *(str(r.id) for r in world["later_records"])]),
        (None, "sent"): [str(world["by_status"]["sent"].id)],
        (campaign, "failed"): [str(world["by_status"]["failed"].id)],
        (later, "skipped"): [],
        (str(uuid.uuid4()), None): [],
    }

    answers = {}
    for (campaign_id, status), _ in cases.items():
        query = {k: v for k, v in (("campaign_id", campaign_id), ("status", status)) if v is not None}
        answers[(campaign_id, status)] = sorted(ids(make.get("/api/outreach-events/", query_string=query)))

    assert answers == cases


def test_one_outreach_record(make, world):
    record = world["by_status"]["failed"]
    listed = rows_by_id(make.get("/api/outreach-events/"))[str(record.id)]

    assert make.get(f"/api/outreach-events/{record.id}/") == listed


def test_unknown_outreach_is_404(admin, world):
    assert_error(admin.get(f"/api/outreach-events/{uuid.uuid4()}/"), 404)
    # Check a campaign's id is not an outreach id.
    assert_error(admin.get(f"/api/outreach-events/{world['campaign']['id']}/"), 404)


def test_events_of_an_unknown_campaign_are_404(admin, world):
    assert_error(admin.get(f"/api/campaigns/{uuid.uuid4()}/events/"), 404)
    assert_error(admin.get(f"/api/campaigns/{world['by_status']['sent'].id}/events/"), 404)


@pytest.mark.parametrize("status", ["", "Sent", "delivered", "draft", "sent,failed"])
def test_an_invalid_status_filter_is_400(admin, world, status):
    assert_invalid(
        admin.get(f"/api/campaigns/{world['campaign']['id']}/events/", query_string={"status": status}), "status"
    )
    assert_invalid(admin.get("/api/outreach-events/", query_string={"status": status}), "status")


def test_other_invalid_query_parameters_are_400(admin, world):
    assert_invalid(admin.get("/api/outreach-events/", query_string={"campaign_id": "nope"}), "campaign_id")
    for path in ("/api/outreach-events/", f"/api/campaigns/{world['campaign']['id']}/events/"):
        assert_invalid(admin.get(path, query_string={"page_size": "201"}), "page_size")
        assert_invalid(admin.get(path, query_string={"page": "0"}), "page")


def test_pages_walk_every_record(make, world):
    page = make.get("/api/outreach-events/", query_string={"page_size": 4})
    assert (page["count"], len(page["results"]), page["previous"]) == (6, 4, None)
    rest = make.get(page["next"])

    assert (len(rest["results"]), rest["next"]) == (2, None)
    assert ids(page) + ids(rest) == ids(make.get("/api/outreach-events/"))
    assert make.get(rest["previous"]) == page


def test_a_deleted_customer_keeps_their_outreach_without_an_email(admin, make, world):
    record = world["by_status"]["sent"]
    assert admin.delete(f"/api/customers/{record.customer_id}/").status_code == 204

    row = make.get(f"/api/outreach-events/{record.id}/")

    assert (row["customer"], row["customer_email"], row["status"]) == (str(record.customer_id), None, "sent")
    assert make.get("/api/outreach-events/")["count"] == 6


@contextmanager
def counting_statements(engine):
    statements: list[str] = []
    requester = threading.get_ident()  # (the test client serves on this thread; followers do not)

    def count(conn, cursor, statement, parameters, context, executemany):
        # The key's lookup is cached for 0.5 s, and a statement is prepared once per connection
        # (PostgreSQL): neither is the page's cost.
        if threading.get_ident() != requester:
            return
        if "api_keys" not in statement and not statement.startswith("PREPARE "):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("route", ["global", "campaign"])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(make, container, restaurant, world, route):
    # More records, so a page of 100 holds many more rows than a page of 1.
    more = [make.customer(restaurant) for _ in range(20)]
    extra = make.campaign(restaurant, name="Autumn")
    queue_outreach(make, container, extra, more + world["guests"])
    path = "/api/outreach-events/" if route == "global" else f"/api/campaigns/{extra['id']}/events/"

    counts = {}
    for size in (1, 100):
        with counting_statements(container.engine) as statements:
            page = make.get(path, query_string={"page_size": size})
        counts[size] = (len(statements), len(page["results"]))

    rows = 30 if route == "global" else 24
    assert counts[1][1] == 1 and counts[100][1] == rows
    assert counts[1][0] == counts[100][0], counts
    assert counts[1][0] > 0
