"""ContactAllowance: a restaurant's frequency cap on one customer, given events, when a reservation."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from crm.write_model.contact_allowances import ContactAllowance

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def allowance() -> ContactAllowance:
    started = ContactAllowance.start(uuid4(), uuid4(), "worker", NOW)
    started.collect_events()
    return started


def test_a_reservation_within_the_cap_is_recorded_and_held():
    contact, campaign = allowance(), uuid4()
    assert contact.reserve(campaign, 2, 7, "worker", NOW) is True
    [event] = contact.collect_events()
    assert isinstance(event, ContactAllowance.Reserved) and event.campaign_id == campaign
    # Check the same campaign asking again (a redelivered task) keeps its reservation, once.
    assert contact.reserve(campaign, 2, 7, "worker", NOW + timedelta(minutes=1)) is True
    assert contact.collect_events() == []


def test_the_cap_refuses_one_more_message_within_the_window_and_allows_it_after():
    contact = allowance()
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW)
    contact.collect_events()
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW + timedelta(days=6, hours=23)) is False
    assert contact.collect_events() == []
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW + timedelta(days=7, seconds=1)) is True


def test_a_released_reservation_no_longer_counts():
    contact, first = allowance(), uuid4()
    contact.reserve(first, 1, 7, "worker", NOW)
    contact.release(first, "worker", NOW)
    [_, released] = contact.collect_events()
    assert isinstance(released, ContactAllowance.Released)
    assert contact.reserve(uuid4(), 1, 7, "worker", NOW) is True
    contact.release(uuid4(), "worker", NOW)  # nothing held by that campaign: nothing to release
    assert [type(e) for e in contact.collect_events()] == [ContactAllowance.Reserved]
