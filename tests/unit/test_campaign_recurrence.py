"""Campaign aggregate, recurring campaigns: given a series, when scheduled, due, unscheduled or
cancelled, then its events, and the occurrence it creates and starts."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4, uuid5

import pytest

from crm.write_model.campaigns import Campaign
from crm.write_model.errors import Conflict
from crm.write_model.occurrences import occurrence_id, occurrence_name, start_occurrence
from crm.write_model.vocabulary import SCHEDULER_ACTOR
from tests.unit.campaign_support import DETAILS, NOW, campaign_in, event_types, new_events

MONDAYS = {"every": "week", "at": "09:00", "weekdays": ["mon"]}
FIRST = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)  # Monday 2 November 09:00 in Paris
PARIS = "Europe/Paris"


def series(cooldown: int = 30) -> Campaign:
    campaign = campaign_in("draft")
    campaign.schedule(FIRST, "owner", NOW, recurrence=MONDAYS, cooldown_days=cooldown)
    new_events(campaign)
    return campaign


def replayed(events) -> Campaign:
    campaign = None
    for event in events:
        campaign = event.mutate(campaign)
    return campaign


def test_schedule_with_a_recurrence_records_it_with_the_first_time():
    campaign = campaign_in("draft")
    campaign.schedule(FIRST, "owner", NOW, recurrence=MONDAYS, cooldown_days=14)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Scheduled)
    assert (event.scheduled_for, event.recurrence, event.cooldown_days) == (FIRST, MONDAYS, 14)
    assert (campaign.status, campaign.recurrence, campaign.recurrence_cooldown_days) == ("scheduled", MONDAYS, 14)


def test_a_one_off_schedule_has_no_recurrence_nor_cooldown():
    campaign = campaign_in("draft")
    campaign.schedule(FIRST, "owner", NOW, cooldown_days=14)
    [event] = new_events(campaign)
    assert (event.recurrence, event.cooldown_days) == (None, None)


def test_a_due_series_starts_an_occurrence_and_moves_on():
    campaign = series(cooldown=21)
    late = FIRST + timedelta(minutes=3)
    occurrence = start_occurrence(campaign, PARIS, None, late)

    # Check the series recorded the occurrence and is due next Monday at 09:00 Paris, still scheduled
    [recorded] = new_events(campaign)
    assert isinstance(recorded, Campaign.OccurrenceStarted)
    assert recorded.occurrence_id == occurrence.id == uuid5(campaign.id, "occurrence:2026-11-02T08:00:00+00:00")
    assert (recorded.at, recorded.next_at) == (FIRST, FIRST + timedelta(days=7))
    assert (recorded.actor, recorded.timestamp) == (SCHEDULER_ACTOR, late)
    assert (campaign.status, campaign.scheduled_for) == ("scheduled", FIRST + timedelta(days=7))

    # Check the occurrence: created with the series' settings as its occurrence, started at once
    created, started = new_events(occurrence)
    assert isinstance(created, Campaign.Created) and isinstance(started, Campaign.Started)
    assert created.series_id == campaign.id and created.restaurant_id == campaign.restaurant_id
    assert created.name == "Winback · Mon 2 Nov 09:00"
    assert {k: getattr(created, k) for k in DETAILS if k != "name"} == {k: v for k, v in DETAILS.items() if k != "name"}
    assert (started.actor, started.timestamp, started.cooldown_days) == (SCHEDULER_ACTOR, late, 21)
    assert (occurrence.status, occurrence.series_id, occurrence.recurrence) == ("running", campaign.id, None)


def test_a_series_due_for_days_starts_one_occurrence_and_skips_to_the_next_future_one():
    campaign = series()
    back = FIRST + timedelta(days=15)  # every worker down for two Mondays
    occurrence = start_occurrence(campaign, PARIS, None, back)
    assert occurrence.id == occurrence_id(campaign.id, FIRST)
    assert campaign.scheduled_for == FIRST + timedelta(days=21)


def test_a_series_not_yet_due_starts_nothing():
    campaign = series()
    with pytest.raises(Conflict):
        start_occurrence(campaign, PARIS, None, FIRST - timedelta(seconds=1))
    assert new_events(campaign) == []
    assert campaign.start_if_due(SCHEDULER_ACTOR, FIRST) is False  # never starts itself
    assert new_events(campaign) == []


def test_a_series_cannot_be_run_as_one_campaign():
    campaign = series()
    with pytest.raises(Conflict, match="occurrences"):
        campaign.run("owner", NOW)
    assert new_events(campaign) == []


@pytest.mark.parametrize("command", ["unschedule", "cancel"])
def test_unschedule_or_cancel_ends_the_series(command):
    campaign = series()
    getattr(campaign, command)("owner", NOW)
    expected = "draft" if command == "unschedule" else "cancelled"
    assert (campaign.status, campaign.scheduled_for, campaign.recurrence) == (expected, None, None)
    assert campaign.recurrence_cooldown_days is None


def test_replayed_series_and_occurrence_have_the_same_state():
    campaign = Campaign.create(uuid4(), uuid4(), dict(DETAILS), "admin", NOW)
    campaign.schedule(FIRST, "owner", NOW, recurrence=MONDAYS, cooldown_days=7)
    occurrence = start_occurrence(campaign, PARIS, {"all": []}, FIRST)
    series_again, occurrence_again = replayed(campaign.collect_events()), replayed(occurrence.collect_events())
    assert vars(series_again) == vars(campaign)
    assert vars(occurrence_again) == vars(occurrence)
    assert (occurrence_again.series_id, occurrence_again.cooldown_days) == (campaign.id, 7)
    assert occurrence_again.audience_rule == {"all": []}


def test_the_name_is_shortened_to_fit_the_suffix():
    long_name = "x" * 200
    name = occurrence_name(long_name, FIRST, PARIS)
    assert len(name) == 200 and name.endswith(" · Mon 2 Nov 09:00")


def test_older_events_read_without_series_or_cooldown():
    created = {"restaurant_id": uuid4(), "name": "n", "segment_type": "inactive_days", "segment_value": 1}
    Campaign.Created.upcast_v2_v3(created)
    assert created["series_id"] is None
    started = {"audience_rule": None}
    Campaign.Started.upcast_v2_v3(started)
    assert started["cooldown_days"] is None
    scheduled = {"scheduled_for": FIRST}
    Campaign.Scheduled.upcast_v1_v2(scheduled)
    assert (scheduled["recurrence"], scheduled["cooldown_days"]) == (None, None)
    resolved = {"size": 1, "batch_count": 1, "excluded_unsubscribed": 0}
    Campaign.AudienceResolved.upcast_v2_v3(resolved)
    assert resolved["excluded_cooldown"] == 0


def test_resolve_audience_records_those_left_out_by_the_cooldown():
    campaign = campaign_in("running")
    campaign.resolve_audience(5, 1, "worker", NOW, excluded_unsubscribed=1, excluded_cooldown=3)
    assert event_types(new_events(campaign)) == [Campaign.AudienceResolved]
