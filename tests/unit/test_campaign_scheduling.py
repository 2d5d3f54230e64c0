"""Campaign aggregate, scheduling: given a campaign, when scheduled, unscheduled or checked for its
time, then the new events (or the refusal) and the state rebuilt from them."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Snapshot

from crm.write_model.campaigns import Campaign
from crm.write_model.errors import IllegalTransition, InvalidInput
from crm.write_model.vocabulary import SCHEDULE_HORIZON
from tests.unit.campaign_support import DETAILS, DUE, LATER, NOW, campaign_in, event_types, new_events


def replayed(events) -> Campaign:
    campaign = None
    for event in events:
        campaign = event.mutate(campaign)
    return campaign


# -- schedule -------------------------------------------------------------------------


def test_schedule_a_draft_records_the_time_in_utc():
    campaign = campaign_in("draft")
    paris_morning = datetime(2026, 11, 2, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    campaign.schedule(paris_morning, "owner", NOW)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Scheduled)
    assert (event.actor, event.timestamp) == ("owner", NOW)
    assert event.scheduled_for == datetime(2026, 11, 2, 8, 30, tzinfo=timezone.utc)
    assert event.scheduled_for.utcoffset() == timedelta(0)
    # Check the campaign's state
    assert campaign.status == "scheduled"
    assert campaign.scheduled_for == paris_morning


@pytest.mark.parametrize(
    "scheduled_for, message",
    [
        (datetime(2026, 11, 2, 9, 30), "must state its time zone offset"),  # naive
        (NOW - timedelta(minutes=1), "must be in the future"),
        (NOW, "must be in the future"),
        (NOW + SCHEDULE_HORIZON + timedelta(seconds=1), "at most 365 days ahead"),
    ],
    ids=["naive", "past", "now", "beyond the horizon"],
)
def test_schedule_refuses_a_time_it_cannot_keep(scheduled_for, message):
    campaign = campaign_in("draft")
    with pytest.raises(InvalidInput, match=message) as error:
        campaign.schedule(scheduled_for, "owner", NOW)
    assert error.value.field == "scheduled_for"
    assert new_events(campaign) == []
    assert (campaign.status, campaign.scheduled_for) == ("draft", None)


def test_schedule_accepts_the_horizon_itself():
    campaign = campaign_in("draft")
    campaign.schedule(NOW + SCHEDULE_HORIZON, "owner", NOW)
    assert event_types(new_events(campaign)) == [Campaign.Scheduled]


@pytest.mark.parametrize("status", ["scheduled", "running", "paused", "completed", "cancelled"])
def test_schedule_outside_draft_is_illegal(status):
    campaign = campaign_in(status)
    before = campaign.scheduled_for
    with pytest.raises(IllegalTransition, match=f"cannot schedule a campaign that is {status}"):
        campaign.schedule(LATER, "owner", NOW)
    assert new_events(campaign) == []
    assert (campaign.status, campaign.scheduled_for) == (status, before)


# -- unschedule ---------------------------------------------------------------------------


def test_unschedule_returns_it_to_draft_without_a_time():
    campaign = campaign_in("scheduled")
    campaign.unschedule("owner", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Unscheduled)
    assert (event.actor, event.timestamp) == ("owner", LATER)
    assert (campaign.status, campaign.scheduled_for) == ("draft", None)
    assert not campaign.is_due(DUE)


@pytest.mark.parametrize("status", ["draft", "running", "paused", "completed", "cancelled"])
def test_unschedule_of_a_campaign_not_scheduled_is_illegal(status):
    campaign = campaign_in(status)
    with pytest.raises(IllegalTransition, match=f"cannot unschedule a campaign that is {status}"):
        campaign.unschedule("owner", LATER)
    assert new_events(campaign) == []


def test_a_scheduled_campaign_cannot_be_edited_or_deleted():
    campaign = campaign_in("scheduled")
    with pytest.raises(IllegalTransition):
        campaign.change_details({**campaign.details, "name": "Other"}, "owner", LATER)
    with pytest.raises(IllegalTransition):
        campaign.delete("owner", LATER)
    assert new_events(campaign) == []


# -- starting when due --------------------------------------------------------------------


def test_start_if_due_before_its_time_records_nothing():
    campaign = campaign_in("scheduled")
    assert campaign.start_if_due("scheduler", DUE - timedelta(microseconds=1)) is False
    assert new_events(campaign) == []
    assert campaign.status == "scheduled"


@pytest.mark.parametrize("late", [timedelta(0), timedelta(days=3)], ids=["at its time", "late"])
def test_start_if_due_at_or_after_its_time_starts_it(late):
    campaign = campaign_in("scheduled")
    assert campaign.start_if_due("scheduler", DUE + late) is True
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Started)
    assert (event.actor, event.timestamp) == ("scheduler", DUE + late)
    assert (campaign.status, campaign.started_at, campaign.scheduled_for) == ("running", DUE + late, None)


@pytest.mark.parametrize("status", ["draft", "running", "paused", "completed", "cancelled"])
def test_start_if_due_of_a_campaign_not_scheduled_records_nothing(status):
    campaign = campaign_in(status)
    assert campaign.start_if_due("scheduler", DUE + timedelta(days=1)) is False
    assert new_events(campaign) == []
    assert campaign.status == status


def test_start_if_due_starts_it_once():
    campaign = campaign_in("scheduled")
    assert campaign.start_if_due("scheduler", DUE)
    assert not campaign.start_if_due("scheduler", DUE + timedelta(seconds=1))
    assert event_types(new_events(campaign)) == [Campaign.Started]


def test_run_before_its_time_starts_it_now_and_forgets_the_time():
    campaign = campaign_in("scheduled")
    campaign.run("owner", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Started) and event.actor == "owner"
    assert (campaign.status, campaign.started_at, campaign.scheduled_for) == ("running", LATER, None)
    assert not campaign.start_if_due("scheduler", DUE)


def test_cancel_a_scheduled_campaign_forgets_the_time():
    campaign = campaign_in("scheduled")
    campaign.cancel("owner", LATER)
    assert event_types(new_events(campaign)) == [Campaign.Cancelled]
    assert (campaign.status, campaign.scheduled_for) == ("cancelled", None)
    assert not campaign.start_if_due("scheduler", DUE)


# -- the state rebuilt from its events ---------------------------------------------------


def test_scheduled_unscheduled_and_scheduled_later_rebuilds_to_the_later_time():
    campaign = Campaign.create(uuid4(), uuid4(), dict(DETAILS), "admin", NOW)
    campaign.schedule(DUE, "owner", NOW)
    campaign.unschedule("owner", NOW + timedelta(minutes=1))
    campaign.schedule(DUE + timedelta(hours=2), "owner", NOW + timedelta(minutes=2))
    events = new_events(campaign)
    assert event_types(events) == [Campaign.Created, Campaign.Scheduled, Campaign.Unscheduled, Campaign.Scheduled]
    rebuilt = replayed(events)
    assert (rebuilt.status, rebuilt.scheduled_for) == ("scheduled", DUE + timedelta(hours=2))
    assert not rebuilt.is_due(DUE + timedelta(hours=1))
    assert rebuilt.is_due(DUE + timedelta(hours=2))


def test_a_snapshot_without_a_scheduled_for_restores_a_campaign_with_none():
    draft = campaign_in("draft")
    snapshot = Snapshot.take(draft)
    assert "scheduled_for" not in snapshot.state  # as in snapshots taken before scheduling existed
    restored = snapshot.mutate(None)
    assert (restored.status, restored.scheduled_for) == ("draft", None)
    restored.schedule(DUE, "owner", NOW)
    assert restored.scheduled_for == DUE
