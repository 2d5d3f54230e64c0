"""Customer aggregate: given events, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.customers import Customer
from crm.write_model.errors import CustomerNotFound, VisitNotFound

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def new_events(aggregate) -> list:
    return aggregate.collect_events()


def earlier_visit(customer: Customer, visit_id, spend_cents: int, visited_at: datetime) -> None:
    """A visit as recorded before visits had their own streams: an event of the customer."""
    customer.trigger_event(
        Customer.VisitRecorded, visit_id=visit_id, spend_cents=spend_cents, visited_at=visited_at, actor="admin"
    )


@pytest.fixture
def customer() -> Customer:
    customer = Customer.register(uuid4(), uuid4(), "ann@example.com", "Ann", "Lee", "admin", NOW)
    new_events(customer)
    return customer


def test_register_records_the_personal_details_and_the_actor():
    restaurant_id = uuid4()
    customer = Customer.register(uuid4(), restaurant_id, "ann@example.com", "Ann", "Lee", "front-desk", NOW)
    [event] = new_events(customer)
    assert isinstance(event, Customer.Registered)
    assert (event.restaurant_id, event.email, event.first_name, event.last_name) == (
        restaurant_id,
        "ann@example.com",
        "Ann",
        "Lee",
    )
    assert event.actor == "front-desk"
    assert event.timestamp == NOW
    assert customer.total_spend_cents == 0 and customer.last_visit_at is None


def test_an_earlier_visit_on_the_customer_stream_adds_to_the_totals(customer):
    visit_id = uuid4()
    earlier_visit(customer, visit_id, 2500, NOW - timedelta(days=1))
    [event] = new_events(customer)
    assert isinstance(event, Customer.VisitRecorded)
    assert (event.visit_id, event.spend_cents) == (visit_id, 2500)
    assert customer.total_spend_cents == 2500
    assert customer.last_visit_at == NOW - timedelta(days=1)


def test_correct_visit_replaces_spend_and_time(customer):
    visit_id = uuid4()
    earlier_visit(customer, visit_id, 2500, NOW)
    new_events(customer)
    customer.correct_visit(visit_id, 1000, NOW - timedelta(hours=2), "admin", NOW)
    [event] = new_events(customer)
    assert isinstance(event, Customer.VisitCorrected)
    assert customer.total_spend_cents == 1000
    assert customer.last_visit_at == NOW - timedelta(hours=2)


def test_correcting_to_the_same_values_records_nothing(customer):
    visit_id = uuid4()
    earlier_visit(customer, visit_id, 2500, NOW)
    new_events(customer)
    customer.correct_visit(visit_id, 2500, NOW, "admin", NOW)
    assert new_events(customer) == []


def test_void_visit_removes_it_from_the_totals(customer):
    first, second = uuid4(), uuid4()
    earlier_visit(customer, first, 2500, NOW - timedelta(days=3))
    earlier_visit(customer, second, 700, NOW - timedelta(days=1))
    new_events(customer)
    customer.void_visit(second, "admin", NOW)
    [event] = new_events(customer)
    assert isinstance(event, Customer.VisitVoided)
    assert customer.total_spend_cents == 2500
    assert customer.last_visit_at == NOW - timedelta(days=3)


def test_unknown_or_voided_visits_cannot_be_corrected_or_voided(customer):
    visit_id = uuid4()
    with pytest.raises(VisitNotFound):
        customer.correct_visit(visit_id, 1, NOW, "admin", NOW)
    earlier_visit(customer, visit_id, 100, NOW)
    customer.void_visit(visit_id, "admin", NOW)
    with pytest.raises(VisitNotFound):
        customer.void_visit(visit_id, "admin", NOW)


def test_change_details_records_only_real_changes(customer):
    customer.change_details("ann@example.com", "Ann", "Lee", "admin", NOW)
    assert new_events(customer) == []
    customer.change_details("ann.lee@example.com", "Ann", "Lee", "admin", NOW)
    [event] = new_events(customer)
    assert isinstance(event, Customer.DetailsChanged) and event.email == "ann.lee@example.com"


def test_a_deleted_customer_takes_no_more_commands(customer):
    customer.delete("admin", NOW)
    [event] = new_events(customer)
    assert isinstance(event, Customer.Deleted)
    with pytest.raises(CustomerNotFound):
        customer.change_details("ann@example.com", "Annie", "Lee", "admin", NOW)
    with pytest.raises(CustomerNotFound):
        customer.delete("admin", NOW)


def test_customer_events_are_marked_personal_and_restaurant_events_are_not():
    from crm.write_model.restaurants import Restaurant

    assert Customer.Registered.personal_data and Customer.VisitRecorded.personal_data
    assert Customer.Snapshot.personal_data
    assert not Restaurant.Opened.personal_data
