"""Campaign aggregate, audience: given a campaign, when the audience is resolved, then the new events."""

import pytest

from crm.write_model.campaigns import Campaign
from tests.unit.campaign_support import LATER, campaign_in, event_types, new_events, started_with_batches

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


@pytest.mark.parametrize("status", ["draft", "scheduled", "cancelled", "completed"])
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
