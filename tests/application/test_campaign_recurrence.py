"""Recurring campaigns with the injected clock: each occurrence is a campaign of its own, started
by the follower's due check at the same local time across a change of clocks, with its own
audience and records, leaving out whom the series messaged within its cooldown; started once by
two applications, once after every worker was down; unschedule and cancel stop the series, not a
running occurrence; the read tables rebuild the same."""

import time
from datetime import datetime, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from crm.bootstrap import build
from crm.cli import main
from crm.read_model.tables import customers, outreach_events
from crm.workers.embedded import EmbeddedWorker
from crm.workers.follower import STARTED, CampaignFollower
from crm.write_model.campaigns import Campaign
from crm.write_model.occurrences import occurrence_id
from crm.write_model.vocabulary import SCHEDULER_ACTOR
from tests.scenarios import snapshot_tables

PARIS = "Europe/Paris"
DETAILS = {"name": "Win-back", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"}
MONDAYS = {"every": "week", "at": "09:00", "weekdays": ["mon"]}
DAILY = {"every": "day", "at": "09:00"}


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str]]:
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(CampaignFollower, "_publish", staticmethod(lambda topic, id: sent.append((topic, id))))
    return sent


@pytest.fixture
def follower(container) -> CampaignFollower:
    return CampaignFollower(container)


@pytest.fixture
def paris(application, clock) -> UUID:
    clock.now = datetime(2027, 3, 10, 12, 0, tzinfo=timezone.utc)  # a Wednesday, 18 days before summer time
    restaurant_id = application.open_restaurant("Chez Ann", "Europe/Paris", actor="admin")
    for name in ("ann", "bob", "cat"):
        application.register_customer(restaurant_id, f"{name}@example.com", actor="admin", scope=None)
    return restaurant_id


def series_of(application, restaurant_id, recurrence, cooldown=None) -> UUID:
    series = application.create_campaign(restaurant_id, DETAILS, actor="owner", scope=None)
    application.schedule_campaign(
        series, None, actor="owner", scope=None, recurrence=recurrence, recurrence_cooldown_days=cooldown
    )
    return series


def row(container, campaign_id: UUID) -> dict:
    return container.campaign_queries.campaign(campaign_id, None)


def occurrences_of(container, series: UUID) -> list[UUID]:
    """The series' occurrences in the order they started (from its log)."""
    return [
        e.occurrence_id for e in container.application.events.get(series) if isinstance(e, Campaign.OccurrenceStarted)
    ]


def local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(PARIS)).strftime("%a %d %b %H:%M")


def test_a_weekly_recurrence_starts_each_monday_at_09_00_paris_time_across_summer_time(
    application, container, clock, follower, published, paris
):
    series = series_of(application, paris, MONDAYS)
    due = row(container, series)["scheduled_for"]
    assert (row(container, series)["status"], local(due)) == ("scheduled", "Mon 15 Mar 09:00")
    assert row(container, series)["recurrence"] == {**MONDAYS, "weekdays": ["mon"]}
    assert row(container, series)["recurrence_cooldown_days"] == 30  # the default

    started_at = []
    for _ in range(4):  # 15 and 22 March in winter time, 29 March and 5 April in summer time
        clock.now = row(container, series)["scheduled_for"] - timedelta(seconds=1)
        assert follower.start_due() == 0
        clock.advance(seconds=1)
        assert follower.start_due() == 1
        occurrence = occurrences_of(container, series)[-1]
        started_at.append(row(container, occurrence)["started_at"])
        # Check the series stays scheduled, due next Monday
        assert row(container, series)["status"] == "scheduled"
        assert row(container, series)["scheduled_for"] > clock.now

    # Check the same local time each week, an hour earlier in UTC from summer time on
    assert [local(at) for at in started_at] == [
        "Mon 15 Mar 09:00",
        "Mon 22 Mar 09:00",
        "Mon 29 Mar 09:00",
        "Mon 05 Apr 09:00",
    ]
    assert [at.hour for at in started_at] == [8, 8, 7, 7]
    # Check each occurrence is a campaign of its own, named for its time, started by the scheduler
    occurrences = occurrences_of(container, series)
    assert len(set(occurrences)) == 4
    first = row(container, occurrences[0])
    assert (first["name"], first["series_id"], first["status"]) == ("Win-back · Mon 15 Mar 09:00", series, "running")
    assert (first["recurrence"], first["scheduled_for"]) == (None, None)
    started = [e for e in container.application.events.get(occurrences[0]) if isinstance(e, Campaign.Started)]
    assert [(e.actor, e.cooldown_days) for e in started] == [(SCHEDULER_ACTOR, 30)]
    # Check every occurrence's start is published (its audience is resolved as any campaign's), never the series'
    while follower.poll_once():
        pass
    assert published == [(STARTED, str(o)) for o in occurrences]


def test_missed_occurrences_start_once_and_the_series_moves_to_the_next_future_one(
    application, container, clock, follower, paris
):
    series = series_of(application, paris, DAILY)
    first_due = row(container, series)["scheduled_for"]
    clock.now = first_due + timedelta(days=3, hours=1)  # every worker down for three days and more
    assert follower.start_due() == 1
    assert follower.start_due() == 0
    assert occurrences_of(container, series) == [occurrence_id(series, first_due)]
    assert row(container, series)["scheduled_for"] == first_due + timedelta(days=4)
    assert row(container, occurrence_id(series, first_due))["started_at"] == clock.now


def test_two_applications_at_once_create_one_occurrence(application, container, settings, clock, paris):
    series = series_of(application, paris, DAILY)
    clock.now = row(container, series)["scheduled_for"]
    other = build(settings, clock=clock)  # another process's application: its own locks, same log
    try:
        held = other.application.repository.get(series)  # read before the first start is saved
        assert container.application.start_due_campaign(series).position > 0
        # Check the other's retry finds the series moved on and records nothing
        assert other.application.start_due_campaign(series).position == 0
        assert held.is_due(clock.now)  # what it would have started from
    finally:
        other.close()
    assert len(occurrences_of(container, series)) == 1
    assert len(container.campaign_queries.series.occurrences(series)) == 1


@pytest.mark.parametrize("command, status", [("unschedule_campaign", "draft"), ("cancel_campaign", "cancelled")])
def test_unschedule_or_cancel_stops_the_series_not_a_running_occurrence(
    application, container, clock, follower, paris, command, status
):
    series = series_of(application, paris, DAILY)
    clock.now = row(container, series)["scheduled_for"]
    assert follower.start_due() == 1
    [occurrence] = occurrences_of(container, series)
    getattr(application, command)(series, actor="owner", scope=None)
    assert (row(container, series)["status"], row(container, series)["scheduled_for"]) == (status, None)
    assert row(container, series)["recurrence"] is None
    clock.advance(days=2)
    assert follower.start_due() == 0
    assert occurrences_of(container, series) == [occurrence]
    assert row(container, occurrence)["status"] == "running"


def test_a_series_cannot_be_run_at_once(application, container, paris):
    series = series_of(application, paris, DAILY)
    with pytest.raises(Exception, match="occurrences"):
        application.run_campaign(series, actor="owner", scope=None)
    assert row(container, series)["status"] == "scheduled"


# -- own audiences, own records, the cooldown --------------------------------------------


@pytest.fixture
def embedded(container):
    worker = EmbeddedWorker(container).start()
    yield worker
    worker.stop()


def completed(container, campaign_id: UUID, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = row(container, campaign_id)
        if found and found["status"] == "completed":
            return found
        time.sleep(0.05)
    pytest.fail(f"not completed: {row(container, campaign_id)}")


def next_occurrence(container, clock, series: UUID) -> dict:
    """Move the clock to the series' next time; the embedded follower starts it and the worker
    sends it: the occurrence once completed."""
    count = len(occurrences_of(container, series))
    clock.now = row(container, series)["scheduled_for"]
    deadline = time.monotonic() + 30
    while len(occurrences_of(container, series)) == count:
        assert time.monotonic() < deadline, "the follower did not start the occurrence"
        time.sleep(0.05)
    return completed(container, occurrences_of(container, series)[-1])


def recipients(container, campaign_id: UUID) -> dict[UUID, str]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(outreach_events.c.customer_id, outreach_events.c.status).where(
                outreach_events.c.campaign_id == campaign_id
            )
        )
        return dict(rows.all())


def test_each_occurrence_has_its_own_audience_and_records_and_the_cooldown_holds_for_its_days(
    application, container, clock, paris, embedded
):
    with container.engine.connect() as conn:
        ann, bob, cat = conn.execute(select(customers.c.id).order_by(customers.c.email)).scalars()
    series = series_of(application, paris, DAILY, cooldown=2)

    # Check day 1: everyone, each with one record of this occurrence
    day1 = next_occurrence(container, clock, series)
    assert recipients(container, day1["id"]) == {ann: "sent", bob: "sent", cat: "sent"}
    assert (day1["stats"]["audience"], day1["stats"]["excluded_cooldown"]) == (3, 0)

    # Check day 2: the three messaged a day ago are left out and counted; a newcomer is messaged
    dan = application.register_customer(paris, "dan@example.com", actor="admin", scope=None)
    day2 = next_occurrence(container, clock, series)
    assert recipients(container, day2["id"]) == {dan: "sent"}
    assert (day2["stats"]["audience"], day2["stats"]["excluded_cooldown"]) == (1, 3)

    # Check day 3: messaged two days ago is still within the cooldown
    day3 = next_occurrence(container, clock, series)
    assert recipients(container, day3["id"]) == {}
    assert (day3["stats"]["audience"], day3["stats"]["excluded_cooldown"]) == (0, 4)

    # Check day 4: the first three are past the cooldown, the newcomer (messaged on day 2) is not
    day4 = next_occurrence(container, clock, series)
    assert recipients(container, day4["id"]) == {ann: "sent", bob: "sent", cat: "sent"}
    assert (day4["stats"]["audience"], day4["stats"]["excluded_cooldown"]) == (3, 1)
    assert len({day1["id"], day2["id"], day3["id"], day4["id"]}) == 4


def test_another_campaigns_messages_do_not_count_for_the_cooldown(application, container, clock, paris, embedded):
    other = application.create_campaign(paris, {**DETAILS, "name": "One-off"}, actor="owner", scope=None)
    application.run_campaign(other, actor="owner", scope=None)
    completed(container, other)
    series = series_of(application, paris, DAILY, cooldown=30)
    first = next_occurrence(container, clock, series)
    assert (first["stats"]["audience"], first["stats"]["excluded_cooldown"]) == (3, 0)


def test_the_rebuilt_tables_equal_the_incremental_ones_with_recurring_campaigns(
    application, container, settings, clock, follower, paris
):
    weekly, daily, stopped = (series_of(application, paris, r) for r in (MONDAYS, DAILY, DAILY))
    clock.now = row(container, daily)["scheduled_for"]
    assert follower.start_due() == 2  # the two daily series
    application.cancel_campaign(stopped, actor="owner", scope=None)
    [occurrence] = occurrences_of(container, daily)
    container.application.plan_audience(occurrence, [], excluded_unsubscribed=1, excluded_cooldown=2)
    assert container.read_side.wait_for(container.runner.head())
    incremental = snapshot_tables(container)
    assert row(container, occurrence)["stats"]["excluded_cooldown"] == 2
    assert row(container, weekly)["recurrence"] == MONDAYS

    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )
    assert result.exit_code == 0, result.output
    assert snapshot_tables(container) == incremental


def test_the_cooldown_reads_the_series_through_its_index(container):
    from sqlalchemy import text

    explain = "EXPLAIN QUERY PLAN " if container.engine.dialect.name == "sqlite" else "EXPLAIN "
    with container.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
        plan = conn.execute(
            text(explain + "SELECT id FROM campaigns WHERE series_id = :s ORDER BY created_at DESC"),
            {"s": "00000000-0000-0000-0000-000000000000"},
        ).all()
    assert "ix_campaigns_series_created" in " ".join(str(line) for line in plan)
