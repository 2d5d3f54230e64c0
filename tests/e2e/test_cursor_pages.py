"""Lists read by position: `next` links carry a cursor (`after`) that starts the next page after
the last row of the one before, with ties broken by id; a page number alone still works."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.e2e_support import assert_invalid, ids, queue_outreach

INACTIVE = "/api/customers/inactive/"
HIGH = "/api/customers/high_spenders/"
CUSTOMERS = "/api/customers/"


def walk(make, path: str, **query) -> tuple[list[str], list[dict]]:
    """Every row of a list, following `next` links; and each page's query."""
    pages, rows = [], []
    link = make.get(path, query_string=query)
    while True:
        rows += ids(link)
        if link["next"] is None:
            return rows, pages
        query = parse_qs(urlsplit(link["next"]).query)
        pages.append(query)
        link = make.get(link["next"])


def by_number(make, path: str, count: int, **query) -> list[str]:
    pages = -(-count // query["page_size"])
    return [i for n in range(1, pages + 1) for i in ids(make.get(path, query_string={**query, "page": n}))]


@pytest.fixture
def spenders(make, restaurant, clock):
    """Seven customers, five of them tied at one total spend (the id breaks the tie)."""
    people = [make.customer(restaurant) for _ in range(7)]
    for n, person in enumerate(people):
        make.visit(person, 900 if n < 5 else 100 * n, clock.now - timedelta(days=40 + n % 3))
    clock.advance(days=1)
    return people


@pytest.mark.parametrize(
    "path, query",
    [
        (HIGH, {"min_spend_cents": 1}),
        (INACTIVE, {"days": 30}),
        (CUSTOMERS, {}),
    ],
)
def test_following_next_gives_every_row_once_in_the_order_of_page_numbers(make, spenders, path, query):
    query = {**query, "page_size": 2}
    rows, pages = walk(make, path, **query)
    assert sorted(rows) == sorted(p["id"] for p in spenders)
    assert rows == by_number(make, path, len(spenders), **query)
    assert [p["page"] for p in pages] == [["2"], ["3"], ["4"]]
    assert all(len(p["after"]) == 1 and p["after"][0] for p in pages)


def test_a_campaigns_outreach_pages_by_cursor(make, container, restaurant, clock):
    """Records queued together share their time: the id orders them, across page boundaries."""
    people = [make.customer(restaurant) for _ in range(5)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    queue_outreach(make, container, campaign, people)
    path = f"/api/campaigns/{campaign['id']}/events/"
    rows, pages = walk(make, path, page_size=2)
    outreach = make.get(path, query_string={"page_size": 100})
    assert len(rows) == len(set(rows)) == outreach["count"] == len(people)
    assert rows == ids(outreach)
    assert all("after" in p for p in pages)
    rows, _ = walk(make, "/api/outreach-events/", page_size=2, campaign_id=campaign["id"])
    assert rows == ids(outreach)


@pytest.mark.parametrize("after", ["nonsense", "W10", "WyJ4Il0", "WyJ4IiwieSIsInoiXQ", "!!"])
def test_a_string_that_is_not_a_cursor_of_the_list_is_refused(admin, spenders, after):
    response = admin.get(HIGH, query_string={"min_spend_cents": 1, "after": after})
    assert_invalid(response, "after")


def test_next_links_carry_cursors_of_the_documented_pattern(make, client, spenders):
    spec = client.get("/api/openapi.json").get_json()
    pattern = {p["name"]: p for p in spec["paths"][HIGH]["get"]["parameters"]}["after"]["schema"]["pattern"]
    first = make.get(HIGH, query_string={"min_spend_cents": 1, "page_size": 2})
    after = parse_qs(urlsplit(first["next"]).query)["after"][0]
    assert re.fullmatch(pattern, after), (pattern, after)


def test_every_value_of_the_pattern_is_a_position_of_any_list(make, spenders):
    highest_first = make.get(HIGH, query_string={"min_spend_cents": 1})["results"]
    # Check the rows after (900 cents, the largest id) are those below 900, highest first.
    beyond = make.get(HIGH, query_string={"min_spend_cents": 1, "after": f"900.{'f' * 32}"})
    assert ids(beyond) == [row["id"] for row in highest_first if row["total_spend_cents"] < 900]
    # Check values past what a column holds, and a cursor of another list, are positions too.
    for path in (HIGH, INACTIVE, CUSTOMERS):
        for after in (f"-9999999999999999999.{'0' * 32}.9999999999999999999", f"9999999999999999999.{'f' * 32}"):
            assert make.get(path, query_string={"after": after})["next"] is None


def test_a_cursor_of_the_earlier_form_still_reads_on(make, spenders):
    first = make.get(HIGH, query_string={"min_spend_cents": 1, "page_size": 3})
    last = first["results"][-1]
    earlier = json.dumps([str(last["total_spend_cents"]), last["id"], str(first["count"])], separators=(",", ":"))
    cursor = base64.urlsafe_b64encode(earlier.encode()).decode().rstrip("=")
    query = {"min_spend_cents": 1, "page_size": 3, "page": 2}

    assert make.get(HIGH, query_string={**query, "after": cursor}) == make.get(first["next"])


def test_the_previous_link_goes_by_page_number(make, spenders):
    first = make.get(HIGH, query_string={"min_spend_cents": 1, "page_size": 3})
    second = make.get(first["next"])
    previous = parse_qs(urlsplit(second["previous"]).query)
    assert previous["page"] == ["1"] and "after" not in previous
    assert ids(make.get(second["previous"])) == ids(first)


def test_pages_reached_by_cursor_repeat_the_walks_count_and_still_end_where_the_rows_do(make, admin, spenders):
    """Counting again for every page of a long walk would cost more than the page: a page
    reached by `next` repeats the count of the walk's first page; the first page counts afresh.
    Whether another page follows is read from the rows, never from that count."""
    query = {"min_spend_cents": 1, "page_size": 3}
    first = make.get(HIGH, query_string=query)
    assert first["count"] == 7
    for customer_id in ids(first):  # the first page's rows leave the list: 4 remain
        assert admin.delete(f"/api/customers/{customer_id}/").status_code == 204
    remaining = ids(make.get(HIGH, query_string={**query, "page_size": 10}))
    second = make.get(first["next"])
    assert second["count"] == 7  # the walk's count
    assert ids(second) == remaining[:3] and second["next"] is not None
    last = make.get(second["next"])
    assert ids(last) == remaining[3:] and last["next"] is None  # ends with the rows, not the count
    assert make.get(HIGH, query_string=query)["count"] == 4  # a new walk counts again
