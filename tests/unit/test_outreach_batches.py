"""Outreach held by its batch: opening queues a record per customer in one event, and each
flush of outcomes is one event naming every recipient's status, attempts, error and time."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.outreach import AudienceBatch, OutreachRecord, outreach_id

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(minutes=10)


def new_events(aggregate) -> list:
    return aggregate.collect_events()


@pytest.fixture
def batch() -> AudienceBatch:
    batch = AudienceBatch.plan(uuid4(), 3, [uuid4(), uuid4(), uuid4()], "worker", NOW)
    new_events(batch)
    return batch


def replayed(batch: AudienceBatch, *events) -> AudienceBatch:
    """The batch as read back from these events (and its earlier state)."""
    for event in events:
        event.mutate(batch)
    return batch


def test_open_queues_a_record_for_each_customer_in_one_event(batch):
    restaurant = uuid4()
    batch.open(restaurant, "worker", LATER)
    [event] = new_events(batch)
    assert isinstance(event, AudienceBatch.Opened)
    assert (event.campaign_id, event.restaurant_id, event.channel) == (batch.campaign_id, restaurant, "email")
    assert event.customer_ids == batch.customer_ids
    assert (event.actor, event.timestamp) == ("worker", LATER)
    assert batch.outreach_created and batch.opened
    records = batch.records()
    assert [r.customer_id for r in records] == batch.customer_ids
    assert [r.id for r in records] == [outreach_id(batch.campaign_id, c) for c in batch.customer_ids]
    assert {(r.status, r.attempts, r.error_message, r.is_terminal) for r in records} == {("queued", 0, None, False)}


def test_a_batch_opens_once(batch):
    batch.open(uuid4(), "worker", NOW)
    new_events(batch)
    batch.open(uuid4(), "worker", LATER)
    assert new_events(batch) == []


def test_outcomes_of_a_flush_are_one_event_with_each_recipients_record(batch):
    batch.open(uuid4(), "worker", NOW)
    new_events(batch)
    sent, failed, skipped = batch.records()
    sent.record_sent(2, "worker", LATER)
    failed.record_failed(3, "x" * 600, "worker", LATER + timedelta(seconds=1))
    skipped.skip("customer removed", "worker", LATER)
    batch.record_outcomes([sent, failed, skipped])
    [event] = new_events(batch)
    assert isinstance(event, AudienceBatch.OutcomesRecorded)
    assert event.campaign_id == batch.campaign_id
    assert event.outcomes == [
        {"customer_id": sent.customer_id, "status": "sent", "attempts": 2, "error": None, "at": LATER},
        {
            "customer_id": failed.customer_id,
            "status": "failed",
            "attempts": 3,
            "error": "x" * 500,
            "at": LATER + timedelta(seconds=1),
        },
        {
            "customer_id": skipped.customer_id,
            "status": "skipped",
            "attempts": 0,
            "error": "customer removed",
            "at": LATER,
        },
    ]
    assert (event.actor, event.timestamp) == ("worker", LATER + timedelta(seconds=1))
    assert [(r.status, r.attempts, r.error_message) for r in batch.records()] == [
        ("sent", 2, None),
        ("failed", 3, "x" * 500),
        ("skipped", 0, "customer removed"),
    ]


def test_a_recipient_final_in_the_batch_takes_no_second_outcome(batch):
    """A flush repeated (after a crash, or by a redelivered task) records nothing twice."""
    batch.open(uuid4(), "worker", NOW)
    new_events(batch)
    first = batch.records()[0]
    first.record_sent(1, "worker", NOW)
    batch.record_outcomes([first])
    new_events(batch)
    again = OutreachRecord(batch.campaign_id, batch.number, first.customer_id)  # read before the first flush
    again.record_failed(1, "bounced", "worker", LATER)
    batch.record_outcomes([again])
    assert new_events(batch) == []
    assert batch.records()[0].status == "sent"


def test_records_without_a_new_outcome_record_nothing(batch):
    batch.open(uuid4(), "worker", NOW)
    new_events(batch)
    batch.record_outcomes(batch.records())
    assert new_events(batch) == []


def test_a_terminal_record_takes_no_further_outcome(batch):
    batch.open(uuid4(), "worker", NOW)
    record = batch.records()[0]
    record.record_sent(1, "worker", NOW)
    record.skip("campaign cancelled", "worker", LATER)
    record.record_failed(2, "late", "worker", LATER)
    assert (record.status, record.attempts, record.error_message) == ("sent", 1, None)
    assert record.outcome["status"] == "sent"


def test_the_batch_read_back_from_its_events_has_the_same_records():
    batch = AudienceBatch.plan(uuid4(), 0, [uuid4(), uuid4()], "worker", NOW)
    batch.open(uuid4(), "worker", NOW)
    record = batch.records()[1]
    record.record_failed(4, "mailbox full", "worker", LATER)
    batch.record_outcomes([record])
    planned, *events = new_events(batch)
    copy = replayed(planned.mutate(None), *events)
    assert [(r.id, r.status, r.attempts, r.error_message) for r in copy.records()] == [
        (r.id, r.status, r.attempts, r.error_message) for r in batch.records()
    ]
    assert copy.version == batch.version == 3
