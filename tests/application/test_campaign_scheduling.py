"""Scheduled campaigns: the follower's check starts one once, at its time by the injected clock,
and never one unscheduled or cancelled before it; the read tables rebuild the same."""

from datetime import timedelta
from uuid import UUID

import pytest
from click.testing import CliRunner

from crm.bootstrap import build
from crm.cli import main
from crm.workers.follower import STARTED, CampaignFollower
from crm.write_model.campaigns import Campaign
from crm.write_model.errors import CampaignNotFound, IllegalTransition, InvalidInput
from crm.write_model.vocabulary import SCHEDULER_ACTOR
from tests.scenarios import scripted_history, snapshot_tables

DETAILS = {"name": "Lunch", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"}


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str]]:
    """What the follower publishes (topic, campaign id), instead of Celery tasks."""
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(CampaignFollower, "_publish", staticmethod(lambda topic, id: sent.append((topic, id))))
    return sent


@pytest.fixture
def follower(container) -> CampaignFollower:
    return CampaignFollower(container)


@pytest.fixture
def draft(application) -> UUID:
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None)
    return application.create_campaign(restaurant_id, DETAILS, actor="admin", scope=None)


def row(container, campaign_id: UUID) -> dict:
    return container.campaign_queries.campaign(campaign_id, None)


def campaign_events(container, campaign_id: UUID) -> list:
    return list(container.application.events.get(campaign_id))


def test_a_scheduled_campaign_starts_once_at_its_time_and_its_start_is_published(
    application, container, clock, follower, published, draft
):
    due = clock.now + timedelta(hours=2)
    application.schedule_campaign(draft, due, actor="owner", scope=None)
    # Check the read model shows the schedule, and the follower publishes nothing for it
    assert (row(container, draft)["status"], row(container, draft)["scheduled_for"]) == ("scheduled", due)
    while follower.poll_once():
        pass
    assert published == []

    # Check nothing starts a second before its time
    clock.advance(hours=2, seconds=-1)
    assert follower.start_due() == 0
    assert row(container, draft)["status"] == "scheduled"

    # Check the follower's check starts it at its time, as the scheduler, at the clock's time
    clock.advance(seconds=1)
    assert follower.start_due() == 1
    started = campaign_events(container, draft)[-1]
    assert isinstance(started, Campaign.Started)
    assert (started.actor, started.timestamp) == (SCHEDULER_ACTOR, due)
    assert (row(container, draft)["status"], row(container, draft)["scheduled_for"]) == ("running", None)
    assert row(container, draft)["started_at"] == due

    # Check its Started is published once, as any start, and the next checks start nothing again
    while follower.poll_once():
        pass
    assert published == [(STARTED, str(draft))]
    clock.advance(minutes=5)
    assert follower.start_due() == 0
    assert [type(e) for e in campaign_events(container, draft)].count(Campaign.Started) == 1


def test_a_campaign_due_long_ago_starts_at_the_first_check(application, container, clock, follower, draft):
    application.schedule_campaign(draft, clock.now + timedelta(minutes=1), actor="owner", scope=None)
    clock.advance(days=3)  # every worker was down meanwhile
    assert follower.start_due() == 1
    assert row(container, draft)["started_at"] == clock.now


@pytest.mark.parametrize("before_its_time", ["unschedule_campaign", "cancel_campaign"])
def test_unschedule_or_cancel_before_its_time_prevents_the_start(
    application, container, clock, follower, draft, before_its_time
):
    application.schedule_campaign(draft, clock.now + timedelta(hours=1), actor="owner", scope=None)
    getattr(application, before_its_time)(draft, actor="owner", scope=None)
    clock.advance(hours=2)
    assert follower.start_due() == 0
    # Check the write model refuses too, asked directly (as by a follower reading a stale read model)
    assert container.application.start_due_campaign(draft).position == 0
    expected = "draft" if before_its_time == "unschedule_campaign" else "cancelled"
    assert (row(container, draft)["status"], row(container, draft)["scheduled_for"]) == (expected, None)
    assert Campaign.Started not in [type(e) for e in campaign_events(container, draft)]


def test_scheduled_unscheduled_then_scheduled_later_starts_at_the_later_time(
    application, container, clock, follower, draft
):
    first, later = clock.now + timedelta(hours=1), clock.now + timedelta(hours=5)
    application.schedule_campaign(draft, first, actor="owner", scope=None)
    application.unschedule_campaign(draft, actor="owner", scope=None)
    application.schedule_campaign(draft, later, actor="owner", scope=None)
    assert row(container, draft)["scheduled_for"] == later

    clock.advance(hours=1)  # the first time: forgotten
    assert follower.start_due() == 0 and row(container, draft)["status"] == "scheduled"
    clock.advance(hours=4)
    assert follower.start_due() == 1
    assert (row(container, draft)["status"], row(container, draft)["started_at"]) == ("running", later)


def test_the_write_model_checks_the_time_itself(application, container, clock, draft):
    application.schedule_campaign(draft, clock.now + timedelta(hours=1), actor="owner", scope=None)
    assert container.application.start_due_campaign(draft).position == 0  # not due: nothing recorded
    assert row(container, draft)["status"] == "scheduled"


def test_run_before_its_time_starts_it_now_and_the_check_leaves_it(application, container, clock, follower, draft):
    application.schedule_campaign(draft, clock.now + timedelta(hours=1), actor="owner", scope=None)
    clock.advance(minutes=10)
    application.run_campaign(draft, actor="owner", scope=None)
    assert (row(container, draft)["status"], row(container, draft)["started_at"]) == ("running", clock.now)
    clock.advance(hours=1)
    assert follower.start_due() == 0
    started = [e for e in campaign_events(container, draft) if isinstance(e, Campaign.Started)]
    assert [e.actor for e in started] == ["owner"]


def test_two_applications_checking_at_once_start_it_once(application, container, settings, clock, draft):
    application.schedule_campaign(draft, clock.now + timedelta(minutes=1), actor="owner", scope=None)
    clock.advance(minutes=1)
    other = build(settings, clock=clock)  # another process's application: its own locks, same log
    try:
        held = other.application.repository.get(draft)  # read before the first start is saved
        assert container.application.start_due_campaign(draft).position > 0
        # Check the stale copy cannot be saved (optimistic concurrency), and the command, retried, starts nothing
        assert held.start_if_due(SCHEDULER_ACTOR, clock.now)
        with pytest.raises(Exception, match="(?i)integrity|unique|duplicate"):
            other.application.save(held)
        assert other.application.start_due_campaign(draft).position == 0
    finally:
        other.close()
    assert [type(e) for e in campaign_events(container, draft)].count(Campaign.Started) == 1


@pytest.mark.parametrize(
    "when, message",
    [
        (timedelta(minutes=-1), "must be in the future"),
        (timedelta(days=366), "at most 365 days ahead"),
    ],
)
def test_a_time_it_cannot_keep_is_refused_naming_the_field(application, clock, draft, when, message):
    with pytest.raises(InvalidInput, match=message) as error:
        application.schedule_campaign(draft, clock.now + when, actor="owner", scope=None)
    assert error.value.field == "scheduled_for"


def test_a_naive_time_is_refused_naming_the_field(application, clock, draft):
    with pytest.raises(InvalidInput, match="time zone") as error:
        naive = (clock.now + timedelta(hours=1)).replace(tzinfo=None)
        application.schedule_campaign(draft, naive, actor="o", scope=None)
    assert error.value.field == "scheduled_for"


def test_another_restaurant_cannot_schedule_it(application, clock, draft):
    other = application.open_restaurant("Taco Town", actor="admin")
    with pytest.raises(CampaignNotFound):
        application.schedule_campaign(draft, clock.now + timedelta(hours=1), actor="o", scope=other)
    with pytest.raises(IllegalTransition):
        application.unschedule_campaign(draft, actor="o", scope=None)  # a draft: nothing to unschedule


def test_the_rebuilt_tables_equal_the_incremental_ones_with_scheduled_campaigns(
    application, container, settings, clock, follower
):
    scripted_history(application, clock)
    restaurant_id = application.open_restaurant("Brunch Bar", actor="admin")
    campaigns = [application.create_campaign(restaurant_id, DETAILS, actor="a", scope=None) for _ in range(4)]
    waiting, unscheduled, started, cancelled = campaigns
    for campaign in campaigns:
        application.schedule_campaign(campaign, clock.now + timedelta(hours=1), actor="a", scope=None)
    application.unschedule_campaign(unscheduled, actor="a", scope=None)
    application.cancel_campaign(cancelled, actor="a", scope=None)
    clock.advance(hours=1)
    application.unschedule_campaign(waiting, actor="a", scope=None)
    application.schedule_campaign(waiting, clock.now + timedelta(days=2), actor="a", scope=None)
    assert follower.start_due() == 1
    assert container.read_side.wait_for(container.runner.head())
    incremental = snapshot_tables(container)
    states = {row(container, c)["status"]: row(container, c)["scheduled_for"] for c in campaigns}
    assert states == {
        "scheduled": clock.now + timedelta(days=2),
        "draft": None,
        "running": None,
        "cancelled": None,
    }

    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )
    assert result.exit_code == 0, result.output
    assert snapshot_tables(container) == incremental


def test_the_due_campaigns_are_found_through_the_status_and_time_index(container):
    query = container.campaign_queries.due_campaigns_query(container.clock())
    compiled = query.compile(container.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if container.engine.dialect.name == "sqlite" else "EXPLAIN "
    with container.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # (an empty table: a scan would cost nothing)
        plan = " ".join(str(line) for line in conn.exec_driver_sql(explain + str(compiled)).all())
    assert "ix_campaigns_status_scheduled" in plan, plan
