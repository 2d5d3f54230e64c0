"""Visits as their own streams: recorded without loading the customer, yet never for a
customer who is gone or belongs to another restaurant; older visits on the customer's stream
still corrected and voided."""

from datetime import timedelta
from uuid import uuid4

import pytest
from eventsourcing.utils import get_topic

from crm.write_model.customers import Customer
from crm.write_model.errors import Conflict, CustomerNotFound, VisitNotFound
from crm.write_model.visits import Visit


@pytest.fixture
def restaurant_id(application):
    return application.open_restaurant("Pizza Palace", actor="admin")


@pytest.fixture
def customer_id(application, restaurant_id):
    return application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None)


def visit_events(container) -> list:
    topics = {get_topic(Visit.VisitRecorded)}
    return [n for n in container.application.recorder.select_notifications(1, 1000) if n.topic in topics]


def test_a_visit_is_a_stream_of_its_own_and_leaves_the_customer_stream_alone(application, container, customer_id):
    visit_id = application.record_visit(customer_id, 2500, actor="till", scope=None)
    [event] = visit_events(container)
    assert (event.originator_id, event.originator_version) == (visit_id, 1)
    assert application.repository.get(customer_id).version == 1
    assert application.recorder.owned_streams(customer_id) == [visit_id]
    assert container.queries.visit(visit_id, None)["customer"] == customer_id


def test_a_deleted_customer_gets_no_visit_even_once_their_restaurant_is_cached(application, container, customer_id):
    application.record_visit(customer_id, 2500, actor="till", scope=None)  # the process now knows them
    application.delete_customer(customer_id, actor="admin", scope=None)
    with pytest.raises(CustomerNotFound):
        application.record_visit(customer_id, 100, actor="till", scope=None)
    assert len(visit_events(container)) == 1


def test_a_visit_for_another_restaurants_customer_or_no_customer_is_refused(application, container, customer_id):
    other = application.open_restaurant("Taco Town", actor="admin")
    application.record_visit(customer_id, 2500, actor="till", scope=None)  # cached, then asked from elsewhere
    with pytest.raises(CustomerNotFound):
        application.record_visit(customer_id, 100, actor="taco", scope=other)
    with pytest.raises(CustomerNotFound):
        application.record_visit(uuid4(), 100, actor="till", scope=None)
    with pytest.raises(CustomerNotFound):  # a stream that is not a customer's: the restaurant itself
        application.record_visit(other, 100, actor="till", scope=None)
    assert len(visit_events(container)) == 1


def test_a_customer_unknown_at_first_is_found_once_registered(application, restaurant_id):
    customer_id = uuid4()
    with pytest.raises(CustomerNotFound):
        application.record_visit(customer_id, 100, actor="till", scope=None)
    # Check the miss was not remembered.
    application.register_customer(restaurant_id, "bo@example.com", actor="admin", scope=None, customer_id=customer_id)
    assert application.record_visit(customer_id, 100, actor="till", scope=None)


def test_a_replayed_visit_id_is_a_no_op_and_a_voided_one_a_conflict(application, container, customer_id):
    visit_id = uuid4()
    for _ in range(2):
        assert application.record_visit(customer_id, 500, actor="till", scope=None, visit_id=visit_id) == visit_id
    assert len(visit_events(container)) == 1
    other = application.register_customer(
        application.repository.get(customer_id).restaurant_id, "bo@example.com", actor="admin", scope=None
    )
    with pytest.raises(Conflict):
        application.record_visit(other, 500, actor="till", scope=None, visit_id=visit_id)
    application.void_visit(visit_id, actor="admin", scope=None)
    with pytest.raises(Conflict):
        application.record_visit(customer_id, 500, actor="till", scope=None, visit_id=visit_id)
    assert container.queries.customer(customer_id, None)["visit_count"] == 0


def test_corrections_and_voids_check_tenancy_and_the_customer(application, container, restaurant_id, customer_id):
    visit_id = application.record_visit(customer_id, 2500, actor="till", scope=None)
    other = application.open_restaurant("Taco Town", actor="admin")
    with pytest.raises(VisitNotFound):
        application.correct_visit(visit_id, actor="taco", scope=other, spend_cents=1)
    with pytest.raises(VisitNotFound):  # a correction that changes nothing reveals nothing either
        application.correct_visit(visit_id, actor="taco", scope=other, spend_cents=2500)
    with pytest.raises(VisitNotFound):
        application.void_visit(visit_id, actor="taco", scope=other)
    application.correct_visit(visit_id, actor="admin", scope=restaurant_id, spend_cents=3000)
    assert container.queries.customer(customer_id, None)["total_spend_cents"] == 3000
    application.delete_customer(customer_id, actor="admin", scope=None)
    with pytest.raises(VisitNotFound):
        application.correct_visit(visit_id, actor="admin", scope=None, spend_cents=1)
    with pytest.raises(VisitNotFound):
        application.correct_visit(visit_id, actor="admin", scope=None, spend_cents=3000)


def test_visits_recorded_on_the_customer_stream_before_still_count_and_change(
    application, container, customer_id, clock
):
    # A visit as recorded before visits had their own streams: an event of the customer.
    customer = application.repository.get(customer_id)
    old_visit = uuid4()
    customer.trigger_event(
        Customer.VisitRecorded,
        visit_id=old_visit,
        spend_cents=1000,
        visited_at=clock() - timedelta(days=2),
        actor="a",
        timestamp=clock(),
    )
    recorded = container.application._save_recorded(old_visit, customer)
    container.read_side.wait_for(recorded.position)
    new_visit = application.record_visit(customer_id, 500, actor="till", scope=None)
    assert container.queries.customer(customer_id, None)["total_spend_cents"] == 1500

    application.correct_visit(old_visit, actor="admin", scope=None, spend_cents=2000)
    application.void_visit(new_visit, actor="admin", scope=None)
    row = container.queries.customer(customer_id, None)
    assert (row["total_spend_cents"], row["visit_count"]) == (2000, 1)
    # Check the history tells both kinds alike, in order, and as_of counts both.
    history = application.customer_history(customer_id, scope=None)
    assert [e["type"] for e in history] == [
        "Registered",
        "VisitRecorded",
        "VisitRecorded",
        "VisitCorrected",
        "VisitVoided",
    ]
    visit_ids = [str(old_visit), str(new_visit), str(old_visit), str(new_visit)]
    assert [e["data"]["visit_id"] for e in history[1:]] == visit_ids
    assert application.customer_as_of(customer_id, clock(), scope=None)["total_spend_cents"] == 2000
