"""Outreach and AudienceBatch aggregates: given events, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.outreach import AudienceBatch, Outreach, batch_id, outreach_id
from crm.write_model.vocabulary import TERMINAL_OUTREACH as TERMINAL

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(minutes=10)


def new_events(aggregate) -> list:
    return aggregate.collect_events()


@pytest.fixture
def outreach() -> Outreach:
    outreach = Outreach.queue(uuid4(), uuid4(), uuid4(), "worker", NOW)
    new_events(outreach)
    return outreach


OUTCOMES = {
    "sent": lambda o: o.record_sent(2, "worker", LATER),
    "failed": lambda o: o.record_failed(3, "mailbox unavailable", "worker", LATER),
    "skipped": lambda o: o.skip("customer deleted", "worker", LATER),
}


def test_queue_records_a_queued_outreach_with_a_deterministic_id():
    campaign_id, customer_id, restaurant_id = uuid4(), uuid4(), uuid4()
    outreach = Outreach.queue(campaign_id, customer_id, restaurant_id, "worker", NOW)
    [event] = new_events(outreach)
    assert isinstance(event, Outreach.Queued)
    assert (event.campaign_id, event.customer_id, event.restaurant_id) == (campaign_id, customer_id, restaurant_id)
    assert event.channel == "email"
    assert (event.actor, event.timestamp) == ("worker", NOW)
    # Check the new record's state
    assert outreach.id == outreach_id(campaign_id, customer_id) == Outreach.id_for(campaign_id, customer_id)
    assert outreach.status == "queued" and not outreach.is_terminal
    assert outreach.attempts == 0 and outreach.error_message is None
    assert (outreach.campaign_id, outreach.customer_id, outreach.restaurant_id) == (
        campaign_id,
        customer_id,
        restaurant_id,
    )


def test_outreach_id_is_one_per_campaign_and_customer():
    campaign, other_campaign, customer, other_customer = uuid4(), uuid4(), uuid4(), uuid4()
    assert outreach_id(campaign, customer) == outreach_id(campaign, customer)
    assert (
        Outreach.queue(campaign, customer, uuid4(), "a", NOW).id
        == Outreach.queue(campaign, customer, uuid4(), "b", LATER).id
    )
    assert outreach_id(campaign, customer) != outreach_id(campaign, other_customer)
    assert outreach_id(campaign, customer) != outreach_id(other_campaign, customer)
    assert outreach_id(campaign, customer) != campaign


def test_record_sent_is_terminal_and_keeps_the_attempts(outreach):
    outreach.record_sent(2, "worker", LATER)
    [event] = new_events(outreach)
    assert isinstance(event, Outreach.Sent)
    assert (event.attempts, event.actor, event.timestamp) == (2, "worker", LATER)
    assert outreach.status == "sent" and outreach.is_terminal
    assert outreach.attempts == 2 and outreach.error_message is None


def test_record_failed_is_terminal_and_keeps_the_attempts_and_error(outreach):
    outreach.record_failed(3, "mailbox unavailable", "worker", LATER)
    [event] = new_events(outreach)
    assert isinstance(event, Outreach.Failed)
    assert (event.attempts, event.error, event.actor, event.timestamp) == (3, "mailbox unavailable", "worker", LATER)
    assert outreach.status == "failed" and outreach.is_terminal
    assert outreach.attempts == 3 and outreach.error_message == "mailbox unavailable"


@pytest.mark.parametrize("length, kept", [(499, 499), (500, 500), (501, 500), (5000, 500)])
def test_record_failed_truncates_the_error_to_500_characters(outreach, length, kept):
    error = "".join(str(i % 10) for i in range(length))
    outreach.record_failed(1, error, "worker", LATER)
    [event] = new_events(outreach)
    assert event.error == error[:kept] and len(event.error) == kept
    assert outreach.error_message == error[:kept]


def test_skip_is_terminal_and_keeps_the_reason(outreach):
    outreach.skip("customer deleted", "worker", LATER)
    [event] = new_events(outreach)
    assert isinstance(event, Outreach.Skipped)
    assert (event.reason, event.actor, event.timestamp) == ("customer deleted", "worker", LATER)
    assert outreach.status == "skipped" and outreach.is_terminal
    assert outreach.attempts == 0 and outreach.error_message == "customer deleted"


def test_the_outcomes_are_the_terminal_statuses():
    assert set(OUTCOMES) == set(TERMINAL)


@pytest.mark.parametrize("first", list(OUTCOMES))
@pytest.mark.parametrize("then", list(OUTCOMES))
def test_a_terminal_outreach_records_no_further_outcome(outreach, first, then):
    OUTCOMES[first](outreach)
    new_events(outreach)
    state = (outreach.status, outreach.attempts, outreach.error_message)
    OUTCOMES[then](outreach)
    assert new_events(outreach) == []
    assert (outreach.status, outreach.attempts, outreach.error_message) == state


# -- audience batches -------------------------------------------------------------------


def test_plan_records_the_batch_with_a_deterministic_id():
    campaign_id, customers = uuid4(), [uuid4() for _ in range(3)]
    batch = AudienceBatch.plan(campaign_id, 4, customers, "worker", NOW)
    [event] = new_events(batch)
    assert isinstance(event, AudienceBatch.Planned)
    assert (event.campaign_id, event.number, event.customer_ids) == (campaign_id, 4, customers)
    assert (event.actor, event.timestamp) == ("worker", NOW)
    assert batch.id == batch_id(campaign_id, 4)
    assert (batch.campaign_id, batch.number, batch.customer_ids) == (campaign_id, 4, customers)
    assert not batch.outreach_created


def test_batch_id_is_one_per_campaign_and_number():
    campaign, other = uuid4(), uuid4()
    assert batch_id(campaign, 0) == batch_id(campaign, 0)
    assert batch_id(campaign, 0) != batch_id(campaign, 1)
    assert batch_id(campaign, 0) != batch_id(other, 0)


def test_a_planned_batch_keeps_its_own_copy_of_the_customer_ids():
    customers = [uuid4(), uuid4()]
    batch = AudienceBatch.plan(uuid4(), 0, customers, "worker", NOW)
    customers.append(uuid4())
    assert len(batch.customer_ids) == 2


def test_mark_outreach_created_is_recorded_once():
    batch = AudienceBatch.plan(uuid4(), 0, [uuid4()], "worker", NOW)
    new_events(batch)
    batch.mark_outreach_created("worker", LATER)
    [event] = new_events(batch)
    assert isinstance(event, AudienceBatch.OutreachCreated)
    assert (event.actor, event.timestamp) == ("worker", LATER)
    assert batch.outreach_created
    batch.mark_outreach_created("worker", LATER)
    assert new_events(batch) == []
