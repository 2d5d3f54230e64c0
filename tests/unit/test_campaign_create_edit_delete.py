"""Campaign aggregate, create/change details/delete: given a campaign, when a command, then the new events."""

from uuid import uuid4

import pytest

from crm.write_model.campaigns import Campaign
from crm.write_model.errors import CampaignNotFound, IllegalTransition
from tests.unit.campaign_support import DETAILS, LATER, NOW, campaign_in, new_events

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


@pytest.mark.parametrize("status", ["scheduled", "running", "paused", "cancelled", "completed"])
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


@pytest.mark.parametrize("status", ["scheduled", "running", "paused", "cancelled", "completed"])
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
