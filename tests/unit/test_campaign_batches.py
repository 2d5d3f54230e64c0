"""Campaign aggregate, batches: given a started campaign, when batches finish, then the new events."""

from datetime import timedelta

import pytest

from crm.write_model.campaigns import Campaign
from tests.unit.campaign_support import LATER, NOW, campaign_in, event_types, new_events, started_with_batches

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
