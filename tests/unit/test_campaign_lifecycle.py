"""Campaign aggregate, state machine: given a status, when a control, then the new events; and replay."""

from datetime import timedelta
from uuid import uuid4

import pytest

from crm.write_model.campaigns import Campaign
from crm.write_model.errors import IllegalTransition
from tests.unit.campaign_support import DETAILS, LATER, NOW, campaign_in, event_types, new_events


def replayed(events) -> Campaign:
    """The campaign rebuilt from its events alone."""
    campaign = None
    for event in events:
        campaign = event.mutate(campaign)
    return campaign


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
    ("scheduled", "run"): (Campaign.Started, "running"),  # at once, before its time
    ("scheduled", "pause"): None,
    ("scheduled", "resume"): None,
    ("scheduled", "cancel"): (Campaign.Cancelled, "cancelled"),
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
    statuses = ("draft", "scheduled", "running", "paused", "cancelled", "completed")
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


# -- the state rebuilt from its events ---------------------------------------------------


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
