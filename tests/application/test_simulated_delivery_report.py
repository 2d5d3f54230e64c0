"""The simulated backend's report before any send and per recipient, the failure texts it records
as the outreach's error, and the words of a failure rate out of range."""

import uuid

import pytest

from crm.adapters.deliveries import simulated_deliveries
from crm.workers.delivery import (
    OutgoingMessage,
    PermanentDeliveryError,
    SimulatedBackend,
    TransientDeliveryError,
)

IDS = [uuid.UUID(int=n) for n in range(1, 61)]


@pytest.fixture
def engine(container):
    simulated_deliveries.create(container.engine, checkfirst=True)
    with container.engine.begin() as conn:
        conn.execute(simulated_deliveries.delete())
    return container.engine


def message(outreach_id: uuid.UUID, campaign_id: uuid.UUID | None = None) -> OutgoingMessage:
    return OutgoingMessage(outreach_id, campaign_id or uuid.uuid4(), uuid.uuid4(), "a@example.com", "s", "b")


def test_the_report_before_any_send_is_all_zeros(engine):
    assert SimulatedBackend(engine).report() == {
        "messages": 0,
        "attempts": 0,
        "repeated_attempts": 0,
        "delivered": 0,
        "duplicate_deliveries": 0,
    }


def test_two_customers_of_one_campaign_reached_once_each_are_no_duplicate(engine):
    backend = SimulatedBackend(engine)
    campaign_id = uuid.uuid4()
    backend.send(message(uuid.uuid4(), campaign_id))
    backend.send(message(uuid.uuid4(), campaign_id))
    assert backend.report()["duplicate_deliveries"] == 0


def test_the_failures_say_what_they_are(engine):
    [permanent_id, *_] = [i for i in IDS if SimulatedBackend.draw(i) < 0.5]
    [transient_id, *_] = [i for i in IDS if 0.5 <= SimulatedBackend.draw(i) < 1.0]
    backend = SimulatedBackend(engine, failure_rate=1.0)
    with pytest.raises(PermanentDeliveryError) as permanent:
        backend.send(message(permanent_id))
    with pytest.raises(TransientDeliveryError) as transient:
        backend.send(message(transient_id))
    assert str(permanent.value) == "simulated permanent failure"
    assert str(transient.value) == "simulated transient failure (first attempt)"


def test_a_failure_rate_out_of_range_says_what_is_wrong(engine):
    with pytest.raises(ValueError) as out_of_range:
        SimulatedBackend(engine, failure_rate=-0.1)
    assert str(out_of_range.value) == "failure_rate must be between 0 and 1"
