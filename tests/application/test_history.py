"""Replaying one customer's events: the full history, and the customer as of a past moment."""

from datetime import timedelta

import pytest

from crm.write_model.errors import CustomerNotFound


def test_history_lists_every_event_in_order_with_its_actor(application, clock):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(
        restaurant_id, "ann@example.com", "Ann", "Lee", actor="front-desk", scope=None
    )
    visit_id = application.record_visit(customer_id, 2500, actor="till-1", scope=None)
    application.correct_visit(visit_id, actor="manager", scope=None, spend_cents=2000)
    application.void_visit(visit_id, actor="manager", scope=None)
    history = application.customer_history(customer_id, scope=None)
    assert [(e["type"], e["version"], e["actor"]) for e in history] == [
        ("Registered", 1, "front-desk"),
        ("VisitRecorded", 2, "till-1"),
        ("VisitCorrected", 3, "manager"),
        ("VisitVoided", 4, "manager"),
    ]
    assert history[0]["data"]["email"] == "ann@example.com"
    assert history[1]["data"] == {
        "visit_id": str(visit_id),
        "spend_cents": 2500,
        "visited_at": clock().isoformat(),
    }


def test_as_of_rebuilds_the_customer_at_a_past_moment(application, clock):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    registered_at = clock()
    customer_id = application.register_customer(restaurant_id, "ann@example.com", "Ann", "Lee", actor="a", scope=None)
    clock.advance(days=1)
    application.record_visit(customer_id, 2500, actor="a", scope=None)
    after_first = clock()
    clock.advance(days=1)
    application.record_visit(customer_id, 1000, actor="a", scope=None)
    application.update_customer(customer_id, actor="a", scope=None, first_name="Annie")

    # Check the state after the first visit only.
    then = application.customer_as_of(customer_id, after_first, scope=None)
    assert (then["total_spend_cents"], then["visit_count"], then["first_name"]) == (2500, 1, "Ann")
    assert then["last_visit_at"] == after_first
    assert then["restaurant_name"] == "Pizza Palace"
    # Check the state right at registration, and before it.
    assert application.customer_as_of(customer_id, registered_at, scope=None)["visit_count"] == 0
    with pytest.raises(CustomerNotFound):
        application.customer_as_of(customer_id, registered_at - timedelta(seconds=1), scope=None)
    # Check now.
    now = application.customer_as_of(customer_id, clock(), scope=None)
    assert (now["total_spend_cents"], now["first_name"]) == (3500, "Annie")
