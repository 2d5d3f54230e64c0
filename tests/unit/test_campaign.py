"""Campaign aggregate: given events, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.campaigns import Campaign
from crm.write_model.errors import CampaignNotFound, IllegalTransition

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=3)

DETAILS = {
    "name": "Winback",
    "segment_type": "inactive_days",
    "segment_value": 30,
    "subject": "We miss you at {restaurant_name}",
    "message_template": "Hi {first_name}, come back soon!",
}


def new_events(aggregate) -> list:
    return aggregate.collect_events()


def event_types(events) -> list:
    return [type(event) for event in events]


def replayed(events) -> Campaign:
    """The campaign rebuilt from its events alone."""
    campaign = None
    for event in events:
        campaign = event.mutate(campaign)
    return campaign


def campaign_in(status: str) -> Campaign:
    """A campaign brought to `status` through its commands, with no pending events."""
    campaign = Campaign.create(uuid4(), uuid4(), dict(DETAILS), "admin", NOW)
    if status in ("running", "paused", "completed"):
        campaign.run("admin", NOW)
    if status == "paused":
        campaign.pause("admin", NOW)
    if status == "completed":
        campaign.resolve_audience(0, 0, "worker", NOW)
    if status == "cancelled":
        campaign.cancel("admin", NOW)
    new_events(campaign)
    assert campaign.status == status
    return campaign


def started_with_batches(batch_count: int, status: str = "running") -> Campaign:
    campaign = campaign_in(status)
    campaign.resolve_audience(batch_count * 10, batch_count, "worker", NOW)
    new_events(campaign)
    return campaign


# -- create and details -----------------------------------------------------------------


def test_create_records_the_details_and_the_actor():
    campaign_id, restaurant_id = uuid4(), uuid4()
    campaign = Campaign.create(campaign_id, restaurant_id, dict(DETAILS), "owner", NOW)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Created)
    assert event.originator_id == campaign_id
    assert event.restaurant_id == restaurant_id
    assert {key: getattr(event, key) for key in DETAILS} == DETAILS
    assert event.actor == "owner"
    assert event.timestamp == NOW
    # Check the new campaign's state
    assert campaign.id == campaign_id and campaign.restaurant_id == restaurant_id
    assert campaign.details == DETAILS
    assert campaign.status == "draft" and not campaign.deleted
    assert campaign.audience_size is None and not campaign.audience_resolved
    assert campaign.batch_count == 0 and campaign.unfinished_batches == []
    assert campaign.started_at is None and campaign.completed_at is None


def test_change_details_in_draft_records_the_new_details():
    campaign = campaign_in("draft")
    changed = {**DETAILS, "name": "Winback 2", "segment_value": 60}
    campaign.change_details(changed, "editor", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.DetailsChanged)
    assert {key: getattr(event, key) for key in DETAILS} == changed
    assert (event.actor, event.timestamp) == ("editor", LATER)
    assert campaign.details == changed


def test_change_details_with_identical_details_records_nothing():
    campaign = campaign_in("draft")
    campaign.change_details(dict(DETAILS), "editor", LATER)
    assert new_events(campaign) == []
    assert campaign.details == DETAILS


@pytest.mark.parametrize("status", ["running", "paused", "cancelled", "completed"])
def test_change_details_outside_draft_is_illegal(status):
    campaign = campaign_in(status)
    with pytest.raises(IllegalTransition) as error:
        campaign.change_details({**DETAILS, "name": "Other"}, "editor", LATER)
    assert error.value.status == status and status in str(error.value)
    assert new_events(campaign) == []
    assert campaign.details == DETAILS


def test_delete_in_draft_records_deleted():
    campaign = campaign_in("draft")
    campaign.delete("admin", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.Deleted)
    assert (event.actor, event.timestamp) == ("admin", LATER)
    assert campaign.deleted


@pytest.mark.parametrize("status", ["running", "paused", "cancelled", "completed"])
def test_delete_outside_draft_is_illegal(status):
    campaign = campaign_in(status)
    with pytest.raises(IllegalTransition) as error:
        campaign.delete("admin", LATER)
    assert error.value.status == status and status in str(error.value)
    assert new_events(campaign) == []
    assert not campaign.deleted


CONTROLS = {
    "change_details": lambda c: c.change_details({**DETAILS, "name": "Other"}, "admin", LATER),
    "delete": lambda c: c.delete("admin", LATER),
    "run": lambda c: c.run("admin", LATER),
    "pause": lambda c: c.pause("admin", LATER),
    "resume": lambda c: c.resume("admin", LATER),
    "cancel": lambda c: c.cancel("admin", LATER),
}
WORKER_COMMANDS = {
    "resolve_audience": lambda c: c.resolve_audience(5, 1, "worker", LATER),
    "finish_batch": lambda c: c.finish_batch(0, "worker", LATER),
}


@pytest.fixture
def deleted_campaign() -> Campaign:
    campaign = campaign_in("draft")
    campaign.delete("admin", NOW)
    new_events(campaign)
    return campaign


@pytest.mark.parametrize("command", list(CONTROLS))
def test_a_deleted_campaign_takes_no_more_commands(deleted_campaign, command):
    with pytest.raises(CampaignNotFound):
        CONTROLS[command](deleted_campaign)
    assert new_events(deleted_campaign) == []


# resolve_audience and finish_batch do not go through _require, so a deleted campaign silently ignores them.
@pytest.mark.parametrize("command", list(WORKER_COMMANDS))
def test_a_deleted_campaign_takes_no_worker_commands_either(deleted_campaign, command):
    with pytest.raises(CampaignNotFound):
        WORKER_COMMANDS[command](deleted_campaign)
    assert new_events(deleted_campaign) == []


# -- the state machine ------------------------------------------------------------------

TRANSITIONS = {
    # (status, control): (event recorded, new status) or None for IllegalTransition
    ("draft", "run"): (Campaign.Started, "running"),
    ("draft", "pause"): None,
    ("draft", "resume"): None,
    ("draft", "cancel"): (Campaign.Cancelled, "cancelled"),
    ("running", "run"): None,
    ("running", "pause"): (Campaign.Paused, "paused"),
    ("running", "resume"): None,
    ("running", "cancel"): (Campaign.Cancelled, "cancelled"),
    ("paused", "run"): None,
    ("paused", "pause"): None,
    ("paused", "resume"): (Campaign.Resumed, "running"),
    ("paused", "cancel"): (Campaign.Cancelled, "cancelled"),
    ("cancelled", "run"): None,
    ("cancelled", "pause"): None,
    ("cancelled", "resume"): None,
    ("cancelled", "cancel"): None,
    ("completed", "run"): None,
    ("completed", "pause"): None,
    ("completed", "resume"): None,
    ("completed", "cancel"): None,
}
ALLOWED = [(status, control, *outcome) for (status, control), outcome in TRANSITIONS.items() if outcome]
ILLEGAL = [(status, control) for (status, control), outcome in TRANSITIONS.items() if not outcome]


@pytest.mark.parametrize("status, control, event_class, new_status", ALLOWED)
def test_allowed_control_records_its_event(status, control, event_class, new_status):
    campaign = campaign_in(status)
    getattr(campaign, control)("owner", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, event_class)
    assert (event.actor, event.timestamp) == ("owner", LATER)
    assert campaign.status == new_status


@pytest.mark.parametrize("status, control", ILLEGAL)
def test_illegal_control_raises_and_records_nothing(status, control):
    campaign = campaign_in(status)
    with pytest.raises(IllegalTransition) as error:
        getattr(campaign, control)("owner", LATER)
    assert str(error.value) == f"cannot {control} a campaign that is {status}"
    assert (error.value.action, error.value.status) == (control, status)
    assert new_events(campaign) == []
    assert campaign.status == status


def test_the_transition_table_covers_every_status_and_control():
    statuses = ("draft", "running", "paused", "cancelled", "completed")
    controls = ("run", "pause", "resume", "cancel")
    assert set(TRANSITIONS) == {(s, c) for s in statuses for c in controls}


def test_started_at_and_completed_at_come_from_the_event_timestamps():
    campaign = campaign_in("draft")
    started, completed = NOW + timedelta(minutes=5), NOW + timedelta(hours=2)
    campaign.run("admin", started)
    campaign.resolve_audience(10, 1, "worker", started)
    assert (campaign.started_at, campaign.completed_at) == (started, None)
    campaign.finish_batch(0, "worker", completed)
    events = new_events(campaign)
    assert event_types(events)[-1] is Campaign.Completed
    assert campaign.started_at == started
    assert campaign.completed_at == completed
    assert events[-1].timestamp == completed


# -- the audience -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["running", "paused"])
def test_resolve_audience_records_size_and_batches(status):
    campaign = campaign_in(status)
    campaign.resolve_audience(450, 3, "worker", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.AudienceResolved)
    assert (event.size, event.batch_count, event.actor, event.timestamp) == (450, 3, "worker", LATER)
    assert campaign.audience_resolved
    assert (campaign.audience_size, campaign.batch_count) == (450, 3)
    assert campaign.unfinished_batches == [0, 1, 2]
    assert campaign.status == status


def test_resolve_audience_is_recorded_once():
    campaign = started_with_batches(3)
    campaign.resolve_audience(999, 9, "worker", LATER)
    assert new_events(campaign) == []
    assert (campaign.audience_size, campaign.batch_count) == (30, 3)


@pytest.mark.parametrize("status", ["draft", "cancelled", "completed"])
def test_resolve_audience_is_ignored_unless_running_or_paused(status):
    campaign = campaign_in(status)
    before = (campaign.audience_size, campaign.batch_count)
    campaign.resolve_audience(10, 1, "worker", LATER)
    assert new_events(campaign) == []
    assert (campaign.audience_size, campaign.batch_count) == before
    assert campaign.status == status


def test_an_empty_audience_completes_a_running_campaign_at_once():
    campaign = campaign_in("running")
    campaign.resolve_audience(0, 0, "worker", LATER)
    events = new_events(campaign)
    assert event_types(events) == [Campaign.AudienceResolved, Campaign.Completed]
    assert (events[0].size, events[0].batch_count) == (0, 0)
    assert campaign.status == "completed"
    assert campaign.completed_at == LATER


def test_an_empty_audience_of_a_paused_campaign_completes_on_resume():
    campaign = campaign_in("paused")
    campaign.resolve_audience(0, 0, "worker", LATER)
    assert event_types(new_events(campaign)) == [Campaign.AudienceResolved]
    assert campaign.status == "paused"
    campaign.resume("admin", LATER)
    assert event_types(new_events(campaign)) == [Campaign.Resumed, Campaign.Completed]
    assert campaign.status == "completed"


def test_resume_before_the_audience_is_resolved_does_not_complete():
    campaign = campaign_in("paused")
    campaign.resume("admin", LATER)
    assert event_types(new_events(campaign)) == [Campaign.Resumed]
    assert campaign.status == "running"


# -- batches ----------------------------------------------------------------------------


def test_each_batch_finishes_and_the_last_completes_the_campaign_once():
    campaign = started_with_batches(3)
    campaign.finish_batch(1, "worker", LATER)
    [event] = new_events(campaign)
    assert isinstance(event, Campaign.BatchFinished) and event.number == 1
    assert campaign.unfinished_batches == [0, 2] and campaign.status == "running"

    campaign.finish_batch(0, "worker", LATER)
    assert event_types(new_events(campaign)) == [Campaign.BatchFinished]
    assert campaign.unfinished_batches == [2] and campaign.status == "running"

    campaign.finish_batch(2, "worker", LATER)
    events = new_events(campaign)
    assert event_types(events) == [Campaign.BatchFinished, Campaign.Completed]
    assert events[0].number == 2
    assert campaign.unfinished_batches == [] and campaign.status == "completed"

    # Check a redelivered finish of any batch completes nothing again
    for number in range(3):
        campaign.finish_batch(number, "worker", LATER)
    assert new_events(campaign) == []


def test_finishing_a_batch_twice_records_nothing():
    campaign = started_with_batches(2)
    campaign.finish_batch(0, "worker", NOW)
    new_events(campaign)
    campaign.finish_batch(0, "worker", LATER)
    assert new_events(campaign) == []
    assert campaign.finished_batches == [0]
    assert campaign.unfinished_batches == [1]


@pytest.mark.parametrize("number", [-1, 2, 3, 100])
def test_finishing_an_out_of_range_batch_records_nothing(number):
    campaign = started_with_batches(2)
    campaign.finish_batch(number, "worker", LATER)
    assert new_events(campaign) == []
    assert campaign.unfinished_batches == [0, 1] and campaign.status == "running"


def test_finishing_a_batch_before_the_audience_is_resolved_records_nothing():
    campaign = campaign_in("running")
    campaign.finish_batch(0, "worker", LATER)
    assert new_events(campaign) == []
    assert campaign.status == "running"


def test_the_last_batch_finished_while_paused_completes_only_on_resume():
    campaign = started_with_batches(2)
    campaign.finish_batch(0, "worker", NOW)
    campaign.pause("admin", NOW)
    new_events(campaign)

    campaign.finish_batch(1, "worker", LATER)
    assert event_types(new_events(campaign)) == [Campaign.BatchFinished]
    assert campaign.status == "paused" and campaign.unfinished_batches == []
    assert campaign.completed_at is None

    resumed = LATER + timedelta(minutes=1)
    campaign.resume("admin", resumed)
    events = new_events(campaign)
    assert event_types(events) == [Campaign.Resumed, Campaign.Completed]
    assert campaign.status == "completed" and campaign.completed_at == resumed


def test_resume_with_batches_left_does_not_complete():
    campaign = started_with_batches(2, status="paused")
    campaign.finish_batch(0, "worker", NOW)
    new_events(campaign)
    campaign.resume("admin", LATER)
    assert event_types(new_events(campaign)) == [Campaign.Resumed]
    assert campaign.status == "running" and campaign.unfinished_batches == [1]


def test_the_last_batch_of_a_cancelled_campaign_does_not_complete_it():
    campaign = started_with_batches(1)
    campaign.cancel("admin", NOW)
    new_events(campaign)
    campaign.finish_batch(0, "worker", LATER)
    assert Campaign.Completed not in event_types(new_events(campaign))
    assert campaign.status == "cancelled" and campaign.completed_at is None


def test_unfinished_batches_lists_the_numbers_not_yet_finished_in_order():
    campaign = started_with_batches(5)
    assert campaign.unfinished_batches == [0, 1, 2, 3, 4]
    for number in (3, 0, 4):
        campaign.finish_batch(number, "worker", LATER)
    assert campaign.unfinished_batches == [1, 2]


def test_the_state_rebuilt_from_the_events_matches_the_live_state():
    campaign = Campaign.create(uuid4(), uuid4(), dict(DETAILS), "admin", NOW)
    campaign.change_details({**DETAILS, "segment_value": 90}, "admin", NOW)
    campaign.run("admin", NOW + timedelta(minutes=1))
    campaign.resolve_audience(250, 2, "worker", NOW + timedelta(minutes=2))
    campaign.finish_batch(1, "worker", NOW + timedelta(minutes=3))
    campaign.pause("admin", NOW + timedelta(minutes=4))
    campaign.finish_batch(0, "worker", NOW + timedelta(minutes=5))
    campaign.resume("admin", NOW + timedelta(minutes=6))
    rebuilt = replayed(new_events(campaign))
    assert rebuilt.version == campaign.version
    for name in (
        "id",
        "restaurant_id",
        "details",
        "status",
        "deleted",
        "audience_size",
        "batch_count",
        "finished_batches",
        "unfinished_batches",
        "started_at",
        "completed_at",
    ):
        assert getattr(rebuilt, name) == getattr(campaign, name), name
    assert rebuilt.status == "completed"
    assert rebuilt.completed_at == NOW + timedelta(minutes=6)
