"""Customer aggregate: given events, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.customers import ERASED, Customer, redacted_state
from crm.write_model.errors import CustomerNotFound, VisitNotFound
from crm.write_model.vocabulary import ConsentSource

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
    assert event.external_id is None and customer.external_id is None
    assert customer.total_spend_cents == 0 and customer.last_visit_at is None


def test_an_imported_registration_carries_the_external_id_in_the_one_event():
    customer = Customer.register(uuid4(), uuid4(), "ann@example.com", "Ann", "Lee", "import", NOW, "POS-7")
    [event] = new_events(customer)
    assert isinstance(event, Customer.Registered) and event.external_id == "POS-7"
    assert customer.external_id == "POS-7"
    customer.assign_external_id("POS-7", "import", NOW)
    assert new_events(customer) == []  # the same id again records nothing
    assert "external_id" in Customer.Registered.personal_fields


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


# -- consent and erasure ---------------------------------------------------------------------


def test_a_customer_registers_subscribed_and_unsubscribes_once(customer):
    assert (customer.email_consent, customer.email_consent_changed_at) == ("subscribed", NOW)
    later = NOW + timedelta(hours=1)
    customer.unsubscribe(ConsentSource.ONE_CLICK, "unsubscribe-link", later)
    customer.unsubscribe(ConsentSource.API, "admin", later + timedelta(hours=1))  # already: nothing
    [event] = new_events(customer)
    assert isinstance(event, Customer.Unsubscribed)
    assert (event.source, event.actor, event.timestamp) == ("one_click", "unsubscribe-link", later)
    assert (customer.email_consent, customer.email_consent_changed_at) == ("unsubscribed", later)


def test_resubscribing_takes_consent_again_once(customer):
    customer.resubscribe(ConsentSource.API, "admin", NOW)  # subscribed already: nothing
    assert new_events(customer) == []
    customer.unsubscribe(ConsentSource.API, "admin", NOW)
    customer.resubscribe(ConsentSource.DASHBOARD, "operator:ops@example.com", NOW + timedelta(days=1))
    assert [type(e) for e in new_events(customer)] == [Customer.Unsubscribed, Customer.Resubscribed]
    assert customer.email_consent == "subscribed"


def test_consent_of_a_deleted_customer_cannot_change(customer):
    customer.delete("admin", NOW)
    new_events(customer)
    with pytest.raises(CustomerNotFound):
        customer.unsubscribe(ConsentSource.API, "admin", NOW)
    with pytest.raises(CustomerNotFound):
        customer.resubscribe(ConsentSource.API, "admin", NOW)


def test_erasure_records_the_redacted_events_once_and_ends_the_customer(customer):
    redacted = [{"version": 1, "topic": "t", "state": {"email": ERASED}}]
    customer.erase(redacted, "admin", NOW)
    customer.erase(redacted, "admin", NOW)  # once only
    [event] = new_events(customer)
    assert isinstance(event, Customer.Erased) and not Customer.Erased.personal_data
    assert (event.redacted, event.restaurant_id) == (redacted, customer.restaurant_id)
    assert (customer.email, customer.first_name, customer.last_name) == (ERASED, ERASED, ERASED)
    assert customer.deleted and customer.erased
    with pytest.raises(CustomerNotFound):
        customer.change_details("new@example.com", "A", "B", "admin", NOW)


def test_a_deleted_customer_can_still_be_erased(customer):
    customer.delete("admin", NOW)
    customer.erase([], "admin", NOW)
    assert [type(e) for e in new_events(customer)] == [Customer.Deleted, Customer.Erased]


def test_redacted_state_replaces_only_the_personal_fields():
    state = {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "restaurant_id": "r", "timestamp": 1}
    assert redacted_state(state, Customer.Event.personal_fields) == {
        "email": ERASED,
        "first_name": ERASED,
        "last_name": ERASED,
        "restaurant_id": "r",
        "timestamp": 1,
    }


def test_redacted_state_leaves_a_field_never_given_absent():
    state = {"email": "ann@example.com", "first_name": "", "last_name": "", "external_id": None}
    assert redacted_state(state, Customer.Registered.personal_fields) == {
        "email": ERASED,
        "first_name": ERASED,
        "last_name": ERASED,
        "external_id": None,
    }
