"""The dashboard's home page: figures per restaurant and in total, per-day series, running campaigns.

One small dataset on a fixed clock, every expected number worked out by hand below. The clock
stands at Tuesday 10 March 2026, 14:00 UTC: 10:00 in New York (summer time since Sunday 8 March,
07:00 UTC) and 23:00 in Tokyo.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.commands import Caller
from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import queue_outreach

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
WORKER = "worker"
STATUSES = ("queued", "sent", "failed", "skipped")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def clock(clock):
    clock.now = NOW - timedelta(days=60)
    return clock


@pytest.fixture
def world(make, container, clock, admin):
    """Three restaurants, seven customers (one deleted), visits, four campaigns (two running)."""
    pizza = make.restaurant("Pizza Palace", timezone="America/New_York")
    sushi = make.restaurant("Sushi Bar", timezone="Asia/Tokyo")
    diner = make.restaurant("Empty Diner", timezone="UTC")
    # Registered 60 days ago: a1-a4 at the pizzeria, b1 and b2 at the sushi bar.
    a1, a2, a3, a4 = (make.customer(pizza, first_name=f"A{n}") for n in range(1, 5))
    b1, b2 = make.customer(sushi, first_name="B1"), make.customer(sushi, first_name="B2")
    clock.now = NOW - timedelta(days=2)
    a5 = make.customer(pizza, first_name="A5")  # active by its registration alone

    clock.now = NOW - timedelta(days=9)  # 1 March, 14:00 UTC: 09:00 in New York
    p1 = make.campaign(pizza, name="Pizza first")
    sent, failed = queue_outreach(make, container, p1, [a1, a2])
    sent.record_sent(1, WORKER, clock())
    failed.record_failed(3, "gave up after 3 attempts: 421 busy", WORKER, clock())
    Caller(container).record_outcomes([sent, failed])
    Caller(container).finish_batch(uuid.UUID(p1["id"]), 0)

    clock.now = at("2026-03-08T03:00:00")  # 7 March, 22:00 in New York (winter time still)
    p2 = make.campaign(pizza, name="Pizza second")
    sent, failed, skipped, _queued = queue_outreach(make, container, p2, [a1, a2, a3, a5])
    sent.record_sent(1, WORKER, clock())
    failed.record_failed(3, "gave up after 3 attempts: 421 busy", WORKER, clock())
    skipped.skip("customer removed since the campaign started", WORKER, clock())
    Caller(container).record_outcomes([sent, failed, skipped])  # a5's stays queued: p2 runs on

    clock.now = at("2026-03-09T15:30:00")  # 10 March, 00:30 in Tokyo
    s1 = make.campaign(sushi, name="Sushi first")
    records = queue_outreach(make, container, s1, [b1, b2])
    for record in records:
        record.record_sent(1, WORKER, clock())
    Caller(container).record_outcomes(records)
    Caller(container).finish_batch(uuid.UUID(s1["id"]), 0)

    clock.now = NOW
    s2 = make.campaign(sushi, name="Sushi second")
    make.control(s2, "run")  # running, its audience not resolved yet (no worker here)
    for customer, spend, visited_at in (
        (a1, 1250, "2026-03-09T14:00:00"),
        (a1, 800, "2026-02-28T14:00:00"),
        (a2, 500, "2026-01-24T14:00:00"),  # 45 days ago: a2 is inactive, and before the charts
        (a3, 450, "2026-03-08T03:30:00"),  # 7 March in New York
        (a4, 700, "2026-03-09T20:00:00"),
        (b1, 3000, "2026-03-09T16:00:00"),  # 10 March in Tokyo
        (b2, 200, "2026-02-09T00:00:00"),  # the first instant of the first UTC day
        (b2, 100, "2026-02-08T23:59:59"),  # before it (but 9 February in Tokyo)
    ):
        make.visit(customer, spend, at(visited_at))
    assert admin.delete(f"/api/customers/{a4['id']}/").status_code == 204  # its visit still counts
    return {"pizza": pizza, "sushi": sushi, "diner": diner, "p2": p2, "s2": s2}


# -- reading the page ----------------------------------------------------------------------


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def figure_cards(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-figure="([\w-]+)">([^<]*)<', section(page, 'id="figures"', 'id="running-title"')))


def restaurant_rows(page: str) -> dict[str, dict[str, str]]:
    table = section(page, 'id="by-restaurant"', "</table>")
    return {
        key: dict(re.findall(r'data-figure="([\w-]+)">([^<]*)<', row))
        for key, row in re.findall(r'<tr data-restaurant="([\w-]+)"[^>]*>(.*?)</tr>', table, re.S)
    }


def day_table(page: str, table_id: str) -> dict[str, dict[str, str]]:
    table = section(page, f'id="{table_id}"', "</table>")
    return {
        day: dict(re.findall(r'data-series="(\w+)">([^<]*)<', row))
        for day, row in re.findall(r'<tr data-day="([\d-]+)">(.*?)</tr>', table, re.S)
    }


def days(first: str) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=n)).isoformat() for n in range(30)]


def messages(first: str, **nonzero: dict) -> dict[str, dict[str, str]]:
    table = {day: {s: "0" for s in STATUSES} for day in days(first)}
    for day, counts in nonzero.items():
        table[day.replace("_", "-")[1:]].update({s: str(n) for s, n in counts.items()})
    return table


def visits(first: str, **nonzero: tuple) -> dict[str, dict[str, str]]:
    table = {day: {"visits": "0", "spend": "$0.00"} for day in days(first)}
    for day, (count, spend) in nonzero.items():
        table[day.replace("_", "-")[1:]] = {"visits": str(count), "spend": spend}
    return table


def ticks(page: str, chart: str) -> list[str]:
    return re.findall(r'<text class="chart-tick"[^>]*>([^<]+)</text>', section(page, f'data-chart="{chart}"', "</svg>"))


def running_names(page: str) -> list[str]:
    return re.findall(
        r'<a href="/internal/campaigns/[0-9a-f-]+/">([^<]+)</a>', section(page, 'id="running-title"', "</section>")
    )


# -- the tests -------------------------------------------------------------------------------


def test_the_home_page_shows_every_restaurant_and_the_total(dash, world):
    page = text_of(dash.get("/internal/"))
    # Check the figures of all restaurants: 6 customers not deleted, all but a2 active (b2 by a
    # visit on 9 February); of the messages queued since 3 March 14:00 (p2's and s1's), 3 sent and
    # 1 failed: 1 / 4 = 25%; p2 and s2 running.
    assert figure_cards(page) == {
        "customers": "6",
        "active": "5",
        "sent": "3",
        "failure-rate": "25.0%",
        "running": "2",
    }
    assert "1 failed of 4 sent or failed" in page
    rows = restaurant_rows(page)
    assert rows == {
        world["diner"]["id"]: {"customers": "0", "active": "0", "sent": "0", "failure-rate": "—", "running": "0"},
        world["pizza"]["id"]: {"customers": "4", "active": "3", "sent": "1", "failure-rate": "50.0%", "running": "1"},
        world["sushi"]["id"]: {"customers": "2", "active": "2", "sent": "2", "failure-rate": "0.0%", "running": "1"},
        "total": {"customers": "6", "active": "5", "sent": "3", "failure-rate": "25.0%", "running": "2"},
    }
    # Check the rows come by name, each a link that selects its restaurant.
    assert list(rows)[:3] == [world["diner"]["id"], world["pizza"]["id"], world["sushi"]["id"]]
    assert f'href="/internal/?restaurant={world["pizza"]["id"]}">Pizza Palace</a>' in page
    assert running_names(page) == ["Pizza second", "Sushi second"]


def test_the_series_count_utc_days_for_all_restaurants(dash, world):
    page = text_of(dash.get("/internal/"))
    assert '<strong data-field="days-in">UTC days</strong>' in page
    # Check the 30 UTC days from 9 February to 10 March: p1 on 1 March, p2 on 8 March, s1 on 9 March.
    assert day_table(page, "messages-by-day") == messages(
        "2026-02-09",
        _2026_03_01={"sent": 1, "failed": 1},
        _2026_03_08={"sent": 1, "failed": 1, "skipped": 1, "queued": 1},
        _2026_03_09={"sent": 2},
    )
    # Check the visits: b2's at 00:00 on 9 February counts, its one a second earlier does not;
    # the deleted a4's visit counts (1250 + 700 + 3000 on 9 March).
    assert day_table(page, "visits-by-day") == visits(
        "2026-02-09",
        _2026_02_09=(1, "$2.00"),
        _2026_02_28=(1, "$8.00"),
        _2026_03_08=(1, "$4.50"),
        _2026_03_09=(3, "$49.50"),
    )
    # Check the charts: one bar per day and status with a count, a text alternative with the totals.
    chart = section(page, 'data-chart="messages"', "</svg>")
    assert chart.count('<rect class="chart-bar"') == 7
    assert "<title>8 Mar: 1 skipped</title>" in chart and 'fill="url(#chart-pattern-failed)"' in chart
    assert "4 sent, 2 failed, 1 skipped, 1 still queued." in chart
    assert re.search(
        r'<svg class="chart"[^>]*role="img"\s+aria-labelledby="chart-messages-title chart-messages-desc"', page
    )
    assert section(page, 'data-chart="visits"', "</svg>").count('<rect class="chart-bar"') == 4
    assert "$64.00 spent from 09 Feb 2026 to 10 Mar 2026." in page
    # Check the scales: round steps up to the highest day (4 messages, 3 visits, $49.50 of spend),
    # and 8 March's 4 messages as 4 bars of 45 px stacked up the 180 px plot (sent at the bottom).
    assert ticks(page, "messages") == ["1", "2", "3", "4"] and ticks(page, "visits") == ["1", "2", "3"]
    assert ticks(page, "spend") == ["$20", "$40", "$60"]
    bars = re.findall(r'y="([\d.]+)" height="([\d.]+)"\s+fill="([^"]+)"><title>8 Mar: ', chart)
    assert bars == [
        ("149.0", "45.0", "#146c43"),
        ("104.0", "45.0", "url(#chart-pattern-failed)"),
        ("59.0", "45.0", "url(#chart-pattern-skipped)"),
        ("14.0", "45.0", "url(#chart-pattern-queued)"),
    ]


def test_a_restaurant_selected_counts_its_own_local_days(dash, world):
    pizza = text_of(dash.get("/internal/", query_string={"restaurant": world["pizza"]["id"]}))
    assert "days in America/New_York, the restaurant's time zone" in pizza
    assert figure_cards(pizza) == {
        "customers": "4",
        "active": "3",
        "sent": "1",
        "failure-rate": "50.0%",
        "running": "1",
    }
    assert running_names(pizza) == ["Pizza second"]
    assert 'aria-valuenow="75"' in section(pizza, 'id="running-title"', "</section>")  # 3 of 4 done
    # Check p2 (8 March, 03:00 UTC) and a3's visit (03:30 UTC) fall on 7 March in New York.
    assert day_table(pizza, "messages-by-day") == messages(
        "2026-02-09",
        _2026_03_01={"sent": 1, "failed": 1},
        _2026_03_07={"sent": 1, "failed": 1, "skipped": 1, "queued": 1},
    )
    assert day_table(pizza, "visits-by-day") == visits(
        "2026-02-09", _2026_02_28=(1, "$8.00"), _2026_03_07=(1, "$4.50"), _2026_03_09=(2, "$19.50")
    )

    sushi = text_of(dash.get("/internal/", query_string={"restaurant": world["sushi"]["id"]}))
    assert "days in Asia/Tokyo, the restaurant's time zone" in sushi
    assert running_names(sushi) == ["Sushi second"]
    # Check Tokyo's days: both of b2's visits fall on 9 February there, s1 and b1's visit on 10 March.
    assert day_table(sushi, "messages-by-day") == messages("2026-02-09", _2026_03_10={"sent": 2})
    assert day_table(sushi, "visits-by-day") == visits(
        "2026-02-09", _2026_02_09=(2, "$3.00"), _2026_03_10=(1, "$30.00")
    )
    # Check the table of every restaurant stays, the selected one marked.
    assert len(restaurant_rows(sushi)) == 4
    assert f'<tr data-restaurant="{world["sushi"]["id"]}" class="table-active" aria-current="true">' in sushi


def test_an_unknown_or_malformed_restaurant_shows_all_of_them(dash, world):
    for value in (str(uuid.uuid4()), "nope"):
        page = text_of(dash.get("/internal/", query_string={"restaurant": value}))
        assert figure_cards(page)["customers"] == "6" and "UTC days" in page


def test_an_empty_service_shows_zeros_and_empty_charts(dash, clock):
    clock.now = NOW
    response = dash.get("/internal/")
    assert response.status_code == 200
    page = text_of(response)
    assert figure_cards(page) == {"customers": "0", "active": "0", "sent": "0", "failure-rate": "—", "running": "0"}
    assert "No campaign is running." in page and page.count("Nothing recorded on these days") == 3
    assert restaurant_rows(page) == {
        "total": {"customers": "0", "active": "0", "sent": "0", "failure-rate": "—", "running": "0"}
    }


def test_home_is_in_the_navigation_and_behind_the_login(dash, app):
    page = text_of(dash.get("/internal/"))
    assert re.search(r'<a class="nav-link active"\s+aria-current="page"\s+href="/internal/">Home</a>', page)
    assert '<a class="navbar-brand" href="/internal/">' in page
    response = app.test_client().get("/internal/")  # another browser, without a session
    assert response.status_code == 302 and response.headers["Location"] == "/internal/login/?next=/internal/"
