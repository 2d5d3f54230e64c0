"""CustomerEmail index aggregate: one customer per email per restaurant."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.errors import DuplicateEmail

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
SECRET = b"secret"


def test_the_index_id_ignores_case_and_depends_on_restaurant_and_secret():
    restaurant = uuid4()
    assert customer_email_id(SECRET, restaurant, "Ann@Example.com ") == customer_email_id(
        SECRET, restaurant, "ann@example.com"
    )
    assert customer_email_id(SECRET, restaurant, "ann@example.com") != customer_email_id(
        SECRET, uuid4(), "ann@example.com"
    )
    assert customer_email_id(SECRET, restaurant, "ann@example.com") != customer_email_id(
        b"other", restaurant, "ann@example.com"
    )


def test_the_index_id_does_not_contain_the_email():
    index_id = customer_email_id(SECRET, uuid4(), "ann@example.com")
    assert "ann" not in str(index_id)


def test_a_claimed_email_refuses_another_customer_until_released():
    first, second = uuid4(), uuid4()
    index = CustomerEmail.claim_new(uuid4(), first, "admin", NOW)
    index.collect_events()
    index.claim(first, "admin", NOW)  # the holder claiming again changes nothing
    assert index.collect_events() == []
    with pytest.raises(DuplicateEmail):
        index.claim(second, "admin", NOW)
    index.release(first, "admin", NOW)
    index.claim(second, "admin", NOW)
    events = index.collect_events()
    assert [type(e) for e in events] == [CustomerEmail.Released, CustomerEmail.Reclaimed]
    assert index.customer_id == second


def test_release_by_a_non_holder_changes_nothing():
    holder = uuid4()
    index = CustomerEmail.claim_new(uuid4(), holder, "admin", NOW)
    index.collect_events()
    index.release(uuid4(), "admin", NOW)
    assert index.collect_events() == [] and index.customer_id == holder


def test_a_suppressed_address_stays_suppressed_when_claimed_again():
    first, second = uuid4(), uuid4()
    index = CustomerEmail.claim_new(uuid4(), first, "admin", NOW)
    index.release(first, "admin", NOW)
    index.suppress("admin", NOW)
    index.suppress("admin", NOW)  # once only
    assert [type(e) for e in index.collect_events()] == [
        CustomerEmail.Claimed,
        CustomerEmail.Released,
        CustomerEmail.Suppressed,
    ]
    # Check the next customer with the address can claim it, and learns it is suppressed.
    index.claim(second, "admin", NOW)
    assert (index.customer_id, index.suppressed) == (second, True)
    assert not CustomerEmail.claim_new(uuid4(), first, "admin", NOW).suppressed
