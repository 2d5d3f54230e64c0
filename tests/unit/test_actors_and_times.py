"""Every command's events record who gave it and when: the actor and the time passed in, never a
default (a customer's history and the audit trail show both). Given an aggregate, when a command,
then each new event's actor and timestamp."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.campaigns import Campaign
from crm.write_model.contact_allowances import ContactAllowance
from crm.write_model.customers import Customer
from crm.write_model.outreach import AudienceBatch
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import ConsentSource
from tests.unit.campaign_support import campaign_in, started_with_batches

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
AT = NOW + timedelta(hours=5)  # the time each command below is given: not the time it runs
ACTOR = "operator:ops@example.com"
VISIT = uuid4()


def customer() -> Customer:
    """A registered customer with one visit recorded on its own stream (as before visits had theirs)."""
    customer = Customer.register(uuid4(), uuid4(), "ann@example.com", "Ann", "Lee", "admin", NOW)
    customer.trigger_event(Customer.VisitRecorded, visit_id=VISIT, spend_cents=2500, visited_at=NOW, actor="admin")
    return customer


def unsubscribed_customer() -> Customer:
    unsubscribed = customer()
    unsubscribed.unsubscribe(ConsentSource.API, "admin", NOW)
    return unsubscribed


def visit() -> Visit:
    return Visit.record(uuid4(), uuid4(), 2500, NOW, "till-1", NOW)


def allowance() -> ContactAllowance:
    return ContactAllowance.start(uuid4(), uuid4(), "worker", NOW)


def scheduled_for_at() -> Campaign:
    scheduled = campaign_in("draft")
    scheduled.schedule(AT, "admin", NOW)
    return scheduled


def reserved_allowance() -> ContactAllowance:
    reserved = allowance()
    reserved.reserve(CAMPAIGN, 1, 7, "worker", NOW)
    return reserved


def paused_with_its_batches_finished() -> Campaign:
    campaign = campaign_in("running")
    campaign.resolve_audience(10, 1, "worker", NOW)
    campaign.pause("admin", NOW)
    campaign.finish_batch(0, "worker", NOW)
    return campaign


def completed_with_failures() -> Campaign:
    campaign = campaign_in("running")
    campaign.resolve_audience(10, 1, "worker", NOW)
    campaign.finish_batch(0, "worker", NOW)
    return campaign


def opened_batch_with_a_failure() -> AudienceBatch:
    batch = AudienceBatch.plan(uuid4(), 0, [uuid4(), uuid4()], "worker", NOW)
    batch.open(uuid4(), "worker", NOW)
    sent, failed = batch.records()
    sent.record_sent(1, "worker", NOW)
    failed.record_failed(3, "550 mailbox unavailable", "worker", NOW)
    batch.record_outcomes([sent, failed])
    return batch


CAMPAIGN = uuid4()
DETAILS = {
    "name": "Winback II",
    "segment_type": "inactive_days",
    "segment_value": 60,
    "subject": "Hello",
    "message_template": "Hi {first_name}",
}

# name: (the aggregate as given, the command, the events it records)
COMMANDS: dict[str, tuple[Callable, Callable, list]] = {
    "customer change_details": (
        customer,
        lambda c: c.change_details("ann.lee@example.com", "Ann", "Lee", ACTOR, AT),
        [Customer.DetailsChanged],
    ),
    "customer correct_visit": (
        customer,
        lambda c: c.correct_visit(VISIT, 1000, NOW, ACTOR, AT),
        [Customer.VisitCorrected],
    ),
    "customer void_visit": (customer, lambda c: c.void_visit(VISIT, ACTOR, AT), [Customer.VisitVoided]),
    "customer delete": (customer, lambda c: c.delete(ACTOR, AT), [Customer.Deleted]),
    "customer unsubscribe": (
        customer,
        lambda c: c.unsubscribe(ConsentSource.DASHBOARD, ACTOR, AT),
        [Customer.Unsubscribed],
    ),
    "customer resubscribe": (
        unsubscribed_customer,
        lambda c: c.resubscribe(ConsentSource.DASHBOARD, ACTOR, AT),
        [Customer.Resubscribed],
    ),
    "customer erase": (customer, lambda c: c.erase([], ACTOR, AT), [Customer.Erased]),
    "visit correct": (visit, lambda v: v.correct(1000, NOW, ACTOR, AT), [Visit.VisitCorrected]),
    "visit void": (visit, lambda v: v.void(ACTOR, AT), [Visit.VisitVoided]),
    "contact allowance reserve": (
        allowance,
        lambda a: a.reserve(CAMPAIGN, 1, 7, ACTOR, AT),
        [ContactAllowance.Reserved],
    ),
    "contact allowance release": (
        reserved_allowance,
        lambda a: a.release(CAMPAIGN, ACTOR, AT),
        [ContactAllowance.Released],
    ),
    "campaign change_details": (
        lambda: campaign_in("draft"),
        lambda c: c.change_details(DETAILS, ACTOR, AT),
        [Campaign.DetailsChanged],
    ),
    "campaign delete": (lambda: campaign_in("draft"), lambda c: c.delete(ACTOR, AT), [Campaign.Deleted]),
    "campaign run": (lambda: campaign_in("draft"), lambda c: c.run(ACTOR, AT), [Campaign.Started]),
    "campaign schedule": (
        lambda: campaign_in("draft"),
        lambda c: c.schedule(AT + timedelta(hours=1), ACTOR, AT),
        [Campaign.Scheduled],
    ),
    "campaign unschedule": (
        lambda: campaign_in("scheduled"),
        lambda c: c.unschedule(ACTOR, AT),
        [Campaign.Unscheduled],
    ),
    "campaign start_if_due": (scheduled_for_at, lambda c: c.start_if_due(ACTOR, AT), [Campaign.Started]),
    "campaign pause": (lambda: campaign_in("running"), lambda c: c.pause(ACTOR, AT), [Campaign.Paused]),
    "campaign cancel": (lambda: campaign_in("running"), lambda c: c.cancel(ACTOR, AT), [Campaign.Cancelled]),
    "campaign resume, completing it": (
        paused_with_its_batches_finished,
        lambda c: c.resume(ACTOR, AT),
        [Campaign.Resumed, Campaign.Completed],
    ),
    "campaign finish_batch, completing it": (
        lambda: started_with_batches(1),
        lambda c: c.finish_batch(0, ACTOR, AT),
        [Campaign.BatchFinished, Campaign.Completed],
    ),
    "campaign resolve_audience of nobody, completing it": (
        lambda: campaign_in("running"),
        lambda c: c.resolve_audience(0, 0, ACTOR, AT),
        [Campaign.AudienceResolved, Campaign.Completed],
    ),
    "campaign requeue_failed": (
        completed_with_failures,
        lambda c: c.requeue_failed([0], 1, ACTOR, AT),
        [Campaign.FailedRequeued],
    ),
    "audience batch requeue_failed": (
        opened_batch_with_a_failure,
        lambda b: b.requeue_failed(ACTOR, AT),
        [AudienceBatch.FailedRequeued],
    ),
}


@pytest.mark.parametrize("given, command, recorded", COMMANDS.values(), ids=COMMANDS.keys())
def test_the_events_of_a_command_record_its_actor_and_the_time_given(given, command, recorded):
    aggregate = given()
    aggregate.collect_events()
    command(aggregate)
    events = aggregate.collect_events()
    assert [type(event) for event in events] == recorded
    assert [(event.actor, event.timestamp) for event in events] == [(ACTOR, AT)] * len(recorded)


def test_a_new_contact_allowance_records_whose_it_is_who_started_it_and_when():
    restaurant_id, customer_id = uuid4(), uuid4()
    started = ContactAllowance.start(restaurant_id, customer_id, "worker", AT)
    [event] = started.collect_events()
    assert isinstance(event, ContactAllowance.Started)
    assert (event.restaurant_id, event.customer_id) == (restaurant_id, customer_id)
    assert (event.actor, event.timestamp) == ("worker", AT)
    assert (started.restaurant_id, started.customer_id, started.reserved) == (restaurant_id, customer_id, {})
