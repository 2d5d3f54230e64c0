"""Console and simulated delivery backends, and choosing a backend from settings."""

import dataclasses
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from crm.adapters.deliveries import simulated_deliveries
from crm.workers.delivery import (
    ConsoleBackend,
    OutgoingMessage,
    PermanentDeliveryError,
    SimulatedBackend,
    SmtpBackend,
    TransientDeliveryError,
    build_backend,
)

IDS = [uuid.UUID(int=n) for n in range(1, 61)]


def message(outreach_id: uuid.UUID | None = None, **fields) -> OutgoingMessage:
    return OutgoingMessage(
        outreach_id=outreach_id or uuid.uuid4(),
        campaign_id=fields.pop("campaign_id", uuid.uuid4()),
        customer_id=fields.pop("customer_id", uuid.uuid4()),
        to_address=fields.pop("to_address", "john.doe@example.com"),
        subject=fields.pop("subject", "We miss you, John"),
        body=fields.pop("body", "Hello John Doe, come back for a free coffee."),
    )


def ids_where(predicate) -> list[uuid.UUID]:
    return [outreach_id for outreach_id in IDS if predicate(SimulatedBackend.draw(outreach_id))]


def outcome(backend: SimulatedBackend, outreach_id: uuid.UUID) -> str:
    try:
        backend.send(message(outreach_id))
    except PermanentDeliveryError:
        return "permanent"
    except TransientDeliveryError:
        return "transient"
    return "sent"


@pytest.fixture
def engine(container):
    simulated_deliveries.create(container.engine, checkfirst=True)
    with container.engine.begin() as conn:
        conn.execute(simulated_deliveries.delete())
    return container.engine


def test_console_logs_ids_and_sizes_but_no_personal_data(caplog):
    sent = message(subject="Café ☕ for John", body="Dear John Doe, see you soon.")
    with caplog.at_level(logging.INFO, logger="crm.delivery"):
        ConsoleBackend().send(sent)

    [record] = [r for r in caplog.records if r.name == "crm.delivery"]
    line = record.getMessage()
    assert record.levelno == logging.INFO
    for outreach_id in (sent.outreach_id, sent.campaign_id, sent.customer_id):
        assert str(outreach_id) in line
    assert f"subject_chars={len(sent.subject)}" in line and f"body_chars={len(sent.body)}" in line
    for private in ("john.doe", "example.com", "@", "John", "Doe", "Café", "coffee", "see you soon"):
        assert private not in line


def test_draw_is_in_unit_interval_and_spread():
    draws = [SimulatedBackend.draw(outreach_id) for outreach_id in IDS]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert len(set(draws)) == len(IDS)
    assert min(draws) < 0.25 and max(draws) > 0.75


def test_failures_are_deterministic_across_instances(engine):
    first = [outcome(SimulatedBackend(engine, failure_rate=0.5), i) for i in IDS]
    with engine.begin() as conn:
        conn.execute(simulated_deliveries.delete())  # a fresh run, as if on another day
    second = [outcome(SimulatedBackend(engine, failure_rate=0.5), i) for i in IDS]

    assert first == second
    # Check the outcome follows the id's draw, and every kind occurs among these ids.
    expected = [
        "permanent" if d < 0.25 else "transient" if d < 0.5 else "sent" for d in map(SimulatedBackend.draw, IDS)
    ]
    assert first == expected
    assert {"permanent", "transient", "sent"} == set(first)


def test_failure_rate_zero_delivers_everything_first_time(engine):
    backend = SimulatedBackend(engine, failure_rate=0.0)
    assert [outcome(backend, i) for i in IDS] == ["sent"] * len(IDS)
    assert backend.report() == {
        "messages": len(IDS),
        "attempts": len(IDS),
        "repeated_attempts": 0,
        "delivered": len(IDS),
        "duplicate_deliveries": 0,
    }


def test_failure_rate_one_fails_every_first_attempt_with_the_deterministic_kind(engine):
    backend = SimulatedBackend(engine, failure_rate=1.0)
    first = [outcome(backend, i) for i in IDS]
    retried = [outcome(backend, i) for i in IDS]

    draws = [SimulatedBackend.draw(i) for i in IDS]
    assert first == ["permanent" if d < 0.5 else "transient" for d in draws]
    # Check a permanent failure stays permanent, a transient one succeeds on retry.
    assert retried == ["permanent" if d < 0.5 else "sent" for d in draws]
    report = backend.report()
    assert report["attempts"] == 2 * len(IDS) and report["repeated_attempts"] == len(IDS)
    assert report["delivered"] == first.count("transient") and report["duplicate_deliveries"] == 0


def test_a_transient_failure_is_recorded_and_the_retry_succeeds(engine):
    [transient_id, *_] = ids_where(lambda d: 0.1 <= d < 0.2)
    backend = SimulatedBackend(engine, failure_rate=0.2)

    with pytest.raises(TransientDeliveryError, match="simulated transient failure"):
        backend.send(message(transient_id))
    assert backend.attempts(transient_id) == 1
    backend.send(message(transient_id))
    assert backend.attempts(transient_id) == 2

    with engine.connect() as conn:
        row = conn.execute(select(simulated_deliveries)).one()
    assert (row.idempotency_key, row.attempts, row.deliveries) == (transient_id, 2, 1)
    assert row.delivered_at is not None and row.last_attempt_at >= row.delivered_at


def test_report_counts_attempts_deliveries_and_duplicates(engine):
    [permanent_id, *_] = ids_where(lambda d: d < 0.1)
    [transient_id, *_] = ids_where(lambda d: 0.1 <= d < 0.2)
    [good_id, *_] = ids_where(lambda d: d >= 0.2)
    backend = SimulatedBackend(engine, failure_rate=0.2)

    assert [outcome(backend, i) for i in (permanent_id, transient_id, good_id)] == ["permanent", "transient", "sent"]
    assert [outcome(backend, i) for i in (permanent_id, transient_id, good_id)] == ["permanent", "sent", "sent"]

    assert [backend.attempts(i) for i in (permanent_id, transient_id, good_id)] == [2, 2, 2]
    assert backend.attempts(uuid.uuid4()) == 0
    assert backend.report() == {
        "messages": 3,
        "attempts": 6,
        "repeated_attempts": 3,
        "delivered": 2,
        "duplicate_deliveries": 0,  # sending good_id again is a repeated attempt, not a delivery
    }


def test_delivered_at_keeps_the_first_successful_send(engine):
    backend = SimulatedBackend(engine)
    outreach_id = uuid.uuid4()
    read = select(simulated_deliveries.c.delivered_at, simulated_deliveries.c.deliveries)
    backend.send(message(outreach_id))
    with engine.connect() as conn:
        first_delivered_at, _ = conn.execute(read).one()
    time.sleep(0.002)
    backend.send(message(outreach_id))
    with engine.connect() as conn:
        assert conn.execute(read).one() == (first_delivered_at, 1)


def test_two_instances_share_one_record(engine):
    [transient_id, *_] = ids_where(lambda d: 0.5 <= d < 1.0)
    worker_a = SimulatedBackend(engine, failure_rate=1.0)
    worker_b = SimulatedBackend(engine, failure_rate=1.0)

    with pytest.raises(TransientDeliveryError):
        worker_a.send(message(transient_id))
    # Check the other instance sees the first attempt, so its send is a retry and succeeds.
    worker_b.send(message(transient_id))
    worker_a.send(message(transient_id))
    assert worker_a.attempts(transient_id) == worker_b.attempts(transient_id) == 3
    assert worker_a.report() == worker_b.report()
    assert worker_b.report()["duplicate_deliveries"] == 0


def test_concurrent_sends_of_one_key_lose_no_attempt(engine):
    backend = SimulatedBackend(engine)
    sent = message()

    def send_five(_):
        for _ in range(5):
            backend.send(sent)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send_five, range(4)))
    assert backend.attempts(sent.outreach_id) == 20
    assert backend.report() == {
        "messages": 1,
        "attempts": 20,
        "repeated_attempts": 19,
        "delivered": 1,
        "duplicate_deliveries": 0,
    }


def test_one_customer_reached_twice_by_one_campaign_is_a_duplicate_delivery(engine):
    backend = SimulatedBackend(engine)
    first = message()
    second = OutgoingMessage(uuid.uuid4(), first.campaign_id, first.customer_id, "a@example.com", "s", "b")
    backend.send(first)
    backend.send(second)
    other_campaign = OutgoingMessage(uuid.uuid4(), uuid.uuid4(), first.customer_id, "a@example.com", "s", "b")
    backend.send(other_campaign)
    assert backend.report()["duplicate_deliveries"] == 1


def test_latency_is_waited_per_send(engine):
    backend = SimulatedBackend(engine, latency_ms=5)
    started = time.perf_counter()
    backend.send(message())
    backend.send(message())
    assert time.perf_counter() - started >= 0.010


def test_failure_rate_outside_unit_interval_is_refused(engine):
    with pytest.raises(ValueError):
        SimulatedBackend(engine, failure_rate=1.5)


def test_build_backend_follows_settings(settings, engine):
    console = build_backend(dataclasses.replace(settings, delivery_backend="console"), engine)
    smtp = build_backend(
        dataclasses.replace(
            settings,
            delivery_backend="smtp",
            smtp_host="mail.example.com",
            smtp_port=587,
            smtp_username="crm",
            smtp_password="s3cret-pw",
            smtp_starttls=True,
            smtp_from="crm@example.com",
        ),
        engine,
    )
    simulated = build_backend(
        dataclasses.replace(
            settings, delivery_backend="simulated", simulated_latency_ms=3, simulated_failure_rate=0.25
        ),
        engine,
    )

    assert isinstance(console, ConsoleBackend) and console.name == "console"
    assert isinstance(smtp, SmtpBackend) and smtp.name == "smtp"
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.starttls, smtp.from_addr, smtp.timeout) == (
        "mail.example.com",
        587,
        "crm",
        "s3cret-pw",
        True,
        "crm@example.com",
        10.0,
    )
    assert "s3cret-pw" not in repr(smtp)
    assert isinstance(simulated, SimulatedBackend) and simulated.name == "simulated"
    assert (simulated.engine, simulated.latency_ms, simulated.failure_rate) == (engine, 3, 0.25)
