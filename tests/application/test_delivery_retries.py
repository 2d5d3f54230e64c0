"""The sender retries a transient delivery failure with backoff, up to DELIVERY_MAX_ATTEMPTS, and
never retries a permanent one: what each recipient went through is in its outreach record."""

from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from crm.read_model.tables import outreach_events
from crm.workers import sender
from crm.workers.delivery import OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from crm.workers.sender import BatchSender
from tests.scenarios import planned_campaign

SENT = None  # a script step: the backend accepts the message


class ScriptedBackend:
    """Answers each address's sends from its script (an error to raise, or SENT), then accepts."""

    name = "scripted"
    delivers = True

    def __init__(self, scripts: dict[str, list[Exception | None]]):
        self.scripts = {address: list(steps) for address, steps in scripts.items()}
        self.sends: dict[str, list[float]] = {}  # address -> monotonic time of each send

    def send(self, message: OutgoingMessage) -> None:
        self.sends.setdefault(message.to_address, []).append(time.monotonic())
        steps = self.scripts.get(message.to_address, [])
        step = steps.pop(0) if steps else SENT
        if step is not SENT:
            raise step


def transient(times: int) -> list[Exception]:
    return [TransientDeliveryError(f"421 try again later ({n + 1})") for n in range(times)]


def outreach_by_address(container, campaign_id, customers: list) -> dict[str, tuple]:
    """(status, attempts, error_message) of each recipient's outreach row, by address (c0@...)."""
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(
                outreach_events.c.customer_id,
                outreach_events.c.status,
                outreach_events.c.attempts,
                outreach_events.c.error_message,
            ).where(outreach_events.c.campaign_id == campaign_id)
        ).all()
    address = {customer_id: f"c{i}@example.com" for i, customer_id in enumerate(customers)}
    return {address[row.customer_id]: (row.status, row.attempts, row.error_message) for row in rows}


def with_max_attempts(container, attempts: int):
    return dataclasses.replace(
        container, settings=dataclasses.replace(container.settings, delivery_max_attempts=attempts)
    )


def test_transient_failures_are_retried_up_to_the_limit_and_permanent_ones_never(application, container):
    _, campaign_id, customers = planned_campaign(application, 5)
    assert container.settings.delivery_max_attempts == 3  # the default, which the table below assumes
    backend = ScriptedBackend(
        {
            "c0@example.com": [SENT],
            "c1@example.com": transient(1),
            "c2@example.com": transient(2),
            "c3@example.com": transient(5),
            "c4@example.com": [PermanentDeliveryError("550 mailbox unavailable")],
        }
    )

    assert BatchSender(container, backend).send(campaign_id, 0) is True

    # Check every recipient's record: sent after the attempts it took, or failed, and why.
    assert outreach_by_address(container, campaign_id, customers) == {
        "c0@example.com": ("sent", 1, None),
        "c1@example.com": ("sent", 2, None),
        "c2@example.com": ("sent", 3, None),
        "c3@example.com": ("failed", 3, "gave up after 3 attempts: 421 try again later (3)"),
        "c4@example.com": ("failed", 1, "550 mailbox unavailable"),
    }
    # Check the backend was asked exactly that often: a permanent failure once, a transient one
    # no more than the limit allows.
    assert {address: len(times) for address, times in backend.sends.items()} == {
        "c0@example.com": 1,
        "c1@example.com": 2,
        "c2@example.com": 3,
        "c3@example.com": 3,
        "c4@example.com": 1,
    }
    row = container.campaign_queries.campaign(campaign_id, None)
    assert (row["status"], row["stats"]["sent"], row["stats"]["failed"], row["stats"]["queued"]) == (
        "completed",
        3,
        2,
        0,
    )


def test_retries_back_off_exponentially(application, container):
    _, campaign_id, _ = planned_campaign(application, 1)
    backend = ScriptedBackend({"c0@example.com": transient(2)})

    BatchSender(container, backend).send(campaign_id, 0)

    first, second, third = backend.sends["c0@example.com"]
    # Check the waits are at least the backoff's (a busy machine only makes them longer).
    assert second - first >= sender.BACKOFF_SECONDS
    assert third - second >= 2 * sender.BACKOFF_SECONDS


@pytest.mark.parametrize(
    ("max_attempts", "failures", "expected"),
    [
        (1, 1, ("failed", 1, "gave up after 1 attempts: 421 try again later (1)")),
        (5, 4, ("sent", 5, None)),
        (5, 5, ("failed", 5, "gave up after 5 attempts: 421 try again later (5)")),
    ],
)
def test_the_limit_is_delivery_max_attempts(application, container, monkeypatch, max_attempts, failures, expected):
    monkeypatch.setattr(sender, "BACKOFF_SECONDS", 0.001)  # the waits are checked above
    _, campaign_id, customers = planned_campaign(application, 1)
    backend = ScriptedBackend({"c0@example.com": transient(failures)})

    BatchSender(with_max_attempts(container, max_attempts), backend).send(campaign_id, 0)

    assert outreach_by_address(container, campaign_id, customers) == {"c0@example.com": expected}
    assert len(backend.sends["c0@example.com"]) == expected[1]


def test_an_unexpected_backend_error_is_a_failure_tried_once(application, container):
    _, campaign_id, customers = planned_campaign(application, 2)
    backend = ScriptedBackend({"c0@example.com": [ValueError("a bug in the backend")]})

    assert BatchSender(container, backend).send(campaign_id, 0) is True

    assert outreach_by_address(container, campaign_id, customers) == {
        "c0@example.com": ("failed", 1, "unexpected error: ValueError"),
        "c1@example.com": ("sent", 1, None),
    }
    assert len(backend.sends["c0@example.com"]) == 1


def test_a_database_outage_inside_a_backend_is_not_the_messages_failure(application, container):
    # The simulated backend writes to the database: an outage there must fail the task (which is
    # retried), not record the message as failed.
    _, campaign_id, customers = planned_campaign(application, 2)
    gone = DBAPIError("INSERT ...", {}, Exception("server closed the connection"), connection_invalidated=True)
    backend = ScriptedBackend({"c0@example.com": [gone]})

    with pytest.raises(DBAPIError):
        BatchSender(container, backend).send(campaign_id, 0)

    assert outreach_by_address(container, campaign_id, customers) == {
        "c0@example.com": ("queued", 0, None),
        "c1@example.com": ("queued", 0, None),
    }
    assert BatchSender(container, backend).send(campaign_id, 0) is True  # the retried task
    assert set(outreach_by_address(container, campaign_id, customers).values()) == {("sent", 1, None)}
