"""Rules at their edges, and errors that say what they are about: the frequency cap's window and
count, the contact allowance's id, a retry of failures with none to retry, a consent change's
source, an audience resolved with no exclusions, and the not-found and conflict errors of
campaigns, customers and visits."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.contact_allowances import ContactAllowance, contact_allowance_id
from crm.write_model.customers import Customer
from crm.write_model.errors import CampaignNotFound, Conflict, CustomerNotFound, VisitNotFound
from crm.write_model.outreach import AudienceBatch
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import ConsentSource
from tests.unit.campaign_support import campaign_in

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def allowance(restaurant_id=None, customer_id=None) -> ContactAllowance:
    started = ContactAllowance.start(restaurant_id or uuid4(), customer_id or uuid4(), "worker", NOW)
    started.collect_events()
    return started


# -- the contact allowance ------------------------------------------------------------------


def test_a_contact_allowance_is_one_stream_per_restaurant_and_customer():
    restaurant_id, customer_id = uuid4(), uuid4()
    started = allowance(restaurant_id, customer_id)
    assert started.id == contact_allowance_id(restaurant_id, customer_id)
    # Check two campaigns meet on the same stream, and another restaurant or customer does not.
    assert allowance(restaurant_id, customer_id).id == started.id
    assert allowance(uuid4(), customer_id).id != started.id
    assert allowance(restaurant_id, uuid4()).id != started.id


def test_each_reservation_counts_once_towards_the_cap():
    contact = allowance()
    assert contact.reserve(uuid4(), 3, 7, "worker", NOW) is True
    assert contact.reserve(uuid4(), 3, 7, "worker", NOW) is True
    assert contact.reserve(uuid4(), 3, 7, "worker", NOW) is True
    assert contact.reserve(uuid4(), 3, 7, "worker", NOW) is False


def test_a_reservation_exactly_the_window_ago_no_longer_counts():
    contact = allowance()
    contact.reserve(uuid4(), 1, 7, "worker", NOW)
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW + timedelta(days=7) - timedelta(microseconds=1)) is False
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW + timedelta(days=7)) is True


# -- retrying failed outreach ------------------------------------------------------------------


def test_an_opened_batch_without_failures_has_nothing_to_requeue():
    batch = AudienceBatch.plan(uuid4(), 0, [uuid4()], "worker", NOW)
    batch.open(uuid4(), "worker", NOW)
    [sent] = batch.records()
    sent.record_sent(1, "worker", NOW)
    batch.record_outcomes([sent])
    batch.collect_events()
    assert batch.requeue_failed("admin", NOW) == 0
    assert batch.collect_events() == []


def test_the_requeue_of_a_campaign_names_its_batches_and_how_many_records():
    campaign = campaign_in("running")
    campaign.resolve_audience(450, 3, "worker", NOW)
    for number in range(3):
        campaign.finish_batch(number, "worker", NOW)
    campaign.collect_events()
    campaign.requeue_failed([0, 2], 5, "admin", NOW)
    [event] = campaign.collect_events()
    assert (event.batches, event.count) == ([0, 2], 5)
    assert campaign.unfinished_batches == [0, 2]


def test_an_audience_resolved_without_exclusions_records_none_excluded():
    campaign = campaign_in("running")
    campaign.resolve_audience(5, 1, "worker", NOW)
    [event] = campaign.collect_events()
    assert (event.size, event.batch_count, event.excluded_unsubscribed) == (5, 1, 0)


# -- consent ---------------------------------------------------------------------------------


def test_a_resubscription_records_where_it_came_from():
    customer = Customer.register(uuid4(), uuid4(), "ann@example.com", "Ann", "Lee", "admin", NOW)
    customer.unsubscribe(ConsentSource.ONE_CLICK, "unsubscribe-link", NOW)
    customer.collect_events()
    customer.resubscribe(ConsentSource.UNSUBSCRIBE_PAGE, "unsubscribe-link", NOW)
    [event] = customer.collect_events()
    assert event.source == "unsubscribe_page"


# -- errors name what they are about ----------------------------------------------------------


def test_a_deleted_customer_and_an_unknown_visit_are_named_in_their_errors():
    customer = Customer.register(uuid4(), uuid4(), "ann@example.com", "Ann", "Lee", "admin", NOW)
    unknown = uuid4()
    with pytest.raises(VisitNotFound) as not_found:
        customer.void_visit(unknown, "admin", NOW)
    assert not_found.value.id == unknown and str(unknown) in str(not_found.value)
    customer.delete("admin", NOW)
    with pytest.raises(CustomerNotFound) as deleted:
        customer.delete("admin", NOW)
    assert deleted.value.id == customer.id


def test_a_deleted_campaign_is_named_in_its_error():
    campaign = campaign_in("draft")
    campaign.delete("admin", NOW)
    with pytest.raises(CampaignNotFound) as deleted:
        campaign.finish_batch(0, "worker", NOW)
    assert deleted.value.id == campaign.id


def test_a_voided_visit_is_named_in_its_errors():
    visit = Visit.record(uuid4(), uuid4(), 2500, NOW, "till-1", NOW)
    visit.void("manager", NOW)
    with pytest.raises(VisitNotFound) as not_found:
        visit.correct(1, NOW, "manager", NOW)
    assert not_found.value.id == visit.id
    with pytest.raises(Conflict, match=f"visit {visit.id} was recorded and has since been voided"):
        visit.require_replay_of(visit.customer_id)


def test_a_visit_replayed_for_another_customer_says_so():
    visit = Visit.record(uuid4(), uuid4(), 2500, NOW, "till-1", NOW)
    with pytest.raises(Conflict, match=f"visit {visit.id} was recorded for another customer"):
        visit.require_replay_of(uuid4())
