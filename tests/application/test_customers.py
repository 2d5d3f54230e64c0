"""Customer commands and the queries that show their effect (inline projection)."""

from datetime import timedelta
from uuid import uuid4

import pytest

from crm.write_model.errors import (
    CustomerNotFound,
    DuplicateEmail,
    InvalidInput,
    RestaurantHasCustomers,
    RestaurantNotFound,
)


@pytest.fixture
def restaurant_id(application):
    return application.open_restaurant("Pizza Palace", "America/New_York", actor="admin")


def register(application, restaurant_id, email="ann@example.com", **kw):
    return application.register_customer(restaurant_id, email, "Ann", "Lee", actor="admin", scope=None, **kw)


def test_email_is_unique_per_restaurant_whatever_its_case(application, restaurant_id):
    register(application, restaurant_id, "ann@example.com")
    with pytest.raises(DuplicateEmail):
        register(application, restaurant_id, "ANN@Example.COM")
    # Check another restaurant may have a customer with the same email.
    other = application.open_restaurant("Taco Town", actor="admin")
    register(application, other, "ann@example.com")


def test_deleting_a_customer_frees_the_email_and_removes_them_from_the_read_model(
    application, container, restaurant_id
):
    customer_id = register(application, restaurant_id)
    application.record_visit(customer_id, 90_000, actor="admin", scope=None)
    application.delete_customer(customer_id, actor="admin", scope=None)
    # Check they are gone from lists and segments.
    assert container.queries.customer(customer_id, None) is None
    assert container.queries.high_spenders(None, None, 0, 1, 50).count == 0
    assert container.queries.visits(None, None, 1, 50).count == 0
    # Check the email can be registered again, as a new customer.
    again = register(application, restaurant_id)
    assert again != customer_id
    # Check the history of the deleted customer is still in the log.
    types = [e["type"] for e in application.customer_history(customer_id, scope=None)]
    assert types == ["Registered", "VisitRecorded", "Deleted"]


def test_changing_email_moves_the_claim(application, restaurant_id):
    ann = register(application, restaurant_id, "ann@example.com")
    bob = register(application, restaurant_id, "bob@example.com")
    with pytest.raises(DuplicateEmail):
        application.update_customer(ann, actor="admin", scope=None, email="BOB@example.com")
    application.update_customer(ann, actor="admin", scope=None, email="ann.lee@example.com")
    # Check the old email is free and the new one taken.
    register(application, restaurant_id, "ann@example.com")
    with pytest.raises(DuplicateEmail):
        application.update_customer(bob, actor="admin", scope=None, email="Ann.Lee@example.com")


def test_changing_only_the_case_of_an_email_keeps_it(application, container, restaurant_id):
    ann = register(application, restaurant_id, "ann@example.com")
    application.update_customer(ann, actor="admin", scope=None, email="Ann@Example.com")
    assert container.queries.customer(ann, None)["email"] == "Ann@Example.com"
    with pytest.raises(DuplicateEmail):
        register(application, restaurant_id, "ann@example.com")


def test_a_restaurant_with_customers_cannot_be_deleted(application, container, restaurant_id):
    customer_id = register(application, restaurant_id)
    with pytest.raises(RestaurantHasCustomers):
        application.delete_restaurant(restaurant_id, actor="admin", scope=None)
    application.delete_customer(customer_id, actor="admin", scope=None)
    application.delete_restaurant(restaurant_id, actor="admin", scope=None)
    assert container.queries.restaurant(restaurant_id, None) is None
    with pytest.raises(InvalidInput):
        register(application, restaurant_id, "late@example.com")


def test_commands_outside_the_callers_restaurant_find_nothing(application, restaurant_id):
    customer_id = register(application, restaurant_id)
    other = application.open_restaurant("Taco Town", actor="admin")
    with pytest.raises(CustomerNotFound):
        application.record_visit(customer_id, 100, actor="taco", scope=other)
    with pytest.raises(CustomerNotFound):
        application.customer_history(customer_id, scope=other)
    with pytest.raises(RestaurantNotFound):
        application.update_restaurant(restaurant_id, actor="taco", scope=other, name="Mine now")
    with pytest.raises(InvalidInput):
        application.register_customer(restaurant_id, "x@example.com", actor="taco", scope=other)


def test_visits_keep_totals_exact_through_corrections_and_voids(application, container, restaurant_id, clock):
    customer_id = register(application, restaurant_id)
    first = application.record_visit(customer_id, 2500, clock() - timedelta(days=3), actor="admin", scope=None)
    second = application.record_visit(customer_id, 1234, clock() - timedelta(days=1), actor="admin", scope=None)
    application.correct_visit(first, actor="admin", scope=None, spend_cents=3000)
    application.void_visit(second, actor="admin", scope=None)
    row = container.queries.customer(customer_id, None)
    assert (row["total_spend_cents"], row["visit_count"]) == (3000, 1)
    assert row["last_visit_at"] == clock() - timedelta(days=3)


def test_a_visit_id_recorded_twice_counts_once(application, container, restaurant_id):
    customer_id = register(application, restaurant_id)
    visit_id = uuid4()
    for _ in range(3):
        assert application.record_visit(customer_id, 500, actor="admin", scope=None, visit_id=visit_id) == visit_id
    assert container.queries.customer(customer_id, None)["total_spend_cents"] == 500


def test_a_replayed_registration_id_returns_the_same_customer(application, restaurant_id):
    customer_id = uuid4()
    assert register(application, restaurant_id, customer_id=customer_id) == customer_id
    assert register(application, restaurant_id, customer_id=customer_id) == customer_id
    assert len(application.customer_history(customer_id, scope=None)) == 1


def test_replaying_the_creation_of_something_since_deleted_is_a_conflict(application, restaurant_id):
    from crm.write_model.errors import ReplayOfDeleted

    customer_id = uuid4()
    register(application, restaurant_id, customer_id=customer_id)
    application.delete_customer(customer_id, actor="admin", scope=None)
    with pytest.raises(ReplayOfDeleted):
        register(application, restaurant_id, customer_id=customer_id)
    closed = uuid4()
    application.open_restaurant("Closed Diner", actor="admin", restaurant_id=closed)
    application.delete_restaurant(closed, actor="admin", scope=None)
    with pytest.raises(ReplayOfDeleted):
        application.open_restaurant("Closed Diner", actor="admin", restaurant_id=closed)


def test_migrate_gives_restaurants_the_customers_registered_before_they_owned_them(
    application, container, settings, restaurant_id
):
    from sqlalchemy import delete

    from crm.adapters.stream_owners import stream_owners
    from crm.bootstrap import migrate

    customer_id = register(application, restaurant_id)
    # As a customer registered by an earlier version was: owned by no one (counted in a roll).
    with container.engine.begin() as connection:
        connection.execute(delete(stream_owners).where(stream_owners.c.stream_id == customer_id))
    migrate(settings)
    with pytest.raises(RestaurantHasCustomers):
        application.delete_restaurant(restaurant_id, actor="admin", scope=None)
    migrate(settings)  # again: nothing doubles
    assert application.recorder.owned_streams(restaurant_id) == [customer_id]
