"""Helpers shared by the Campaign aggregate tests: fixed times, details, and campaigns brought to a status."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from crm.write_model.campaigns import Campaign

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=3)
DUE = NOW + timedelta(days=1)  # when campaign_in("scheduled") is scheduled for

DETAILS = {
    "name": "Winback",
    "segment_type": "inactive_days",
    "segment_value": 30,
    "subject": "We miss you at {restaurant_name}",
    "message_template": "Hi {first_name}, come back soon!",
    "segment_rule": None,  # a shorthand's settings name no rule
    "segment_id": None,  # and no saved segment
}


def new_events(aggregate) -> list:
    return aggregate.collect_events()


def event_types(events) -> list:
    return [type(event) for event in events]


def campaign_in(status: str) -> Campaign:
    """A campaign brought to `status` through its commands, with no pending events."""
    campaign = Campaign.create(uuid4(), uuid4(), dict(DETAILS), "admin", NOW)
    if status == "scheduled":
        campaign.schedule(DUE, "admin", NOW)
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
