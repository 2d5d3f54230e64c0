"""A start fixes the audience's rule: a saved segment's as it is then (Campaign.Started v2)."""

from datetime import timedelta

import pytest

from crm.write_model.errors import SegmentGone
from crm.write_model.vocabulary import SCHEDULER_ACTOR

REGULARS = {"field": "visit_count", "op": "gte", "value": 2}
MESSAGE = {"name": "Thanks", "message_template": "Hi {first_name}"}


@pytest.fixture
def restaurant_id(application):
    return application.open_restaurant("Pizza Palace", actor="admin")


def started(container, campaign_id):
    return [e for e in container.application.events.get(campaign_id) if type(e).__name__ == "Started"][-1]


def test_a_run_records_the_saved_segments_rule_of_that_moment(application, container, restaurant_id):
    segment_id = application.create_segment(restaurant_id, "Regulars", REGULARS, actor="owner", scope=None)
    campaign_id = application.create_campaign(
        restaurant_id, {**MESSAGE, "segment_id": segment_id}, actor="owner", scope=None
    )
    application.run_campaign(campaign_id, actor="owner", scope=None)
    # Check a later change of the segment leaves the started campaign's rule as it was.
    application.update_segment(
        segment_id, rule={"field": "visit_count", "op": "gte", "value": 9}, actor="owner", scope=None
    )
    assert started(container, campaign_id).audience_rule == REGULARS
    assert container.application.campaign(campaign_id).audience_rule == REGULARS


def test_a_run_of_a_rule_campaign_records_its_rule_and_a_shorthand_none(application, container, restaurant_id):
    ruled = application.create_campaign(restaurant_id, {**MESSAGE, "segment_rule": REGULARS}, actor="o", scope=None)
    shorthand = application.create_campaign(
        restaurant_id, {**MESSAGE, "segment_type": "inactive_days", "segment_value": 3}, actor="o", scope=None
    )
    for campaign_id in (ruled, shorthand):
        application.run_campaign(campaign_id, actor="o", scope=None)
    assert started(container, ruled).audience_rule == REGULARS
    assert started(container, shorthand).audience_rule is None


def test_a_deleted_segment_refuses_the_run_and_sends_a_due_schedule_back_to_draft(
    application, container, restaurant_id, clock
):
    segment_id = application.create_segment(restaurant_id, "Regulars", REGULARS, actor="owner", scope=None)
    campaign_id = application.create_campaign(
        restaurant_id, {**MESSAGE, "segment_id": segment_id}, actor="o", scope=None
    )
    application.schedule_campaign(campaign_id, clock.now + timedelta(minutes=5), actor="o", scope=None)
    application.delete_segment(segment_id, actor="owner", scope=None)
    with pytest.raises(SegmentGone):
        container.application.run_campaign(campaign_id, actor="o", scope=None)
    clock.advance(minutes=6)
    container.application.start_due_campaign(campaign_id)
    campaign = container.application.campaign(campaign_id)
    assert (campaign.status, campaign.started_at, campaign.scheduled_for) == ("draft", None, None)
    last = list(container.application.events.get(campaign_id))[-1]
    assert (type(last).__name__, last.actor) == ("Unscheduled", SCHEDULER_ACTOR)
