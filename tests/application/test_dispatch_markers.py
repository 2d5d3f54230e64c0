"""Dispatch markers in a real Redis: a sender that dies mid-batch leaves behind what it sent, so the
sender that takes over sends again only the message that was in flight, and counts its attempts on."""

from __future__ import annotations

import logging

import pytest
import redis

from crm.adapters.dispatch_markers import NoMarkers, RedisDispatchMarkers
from crm.workers.delivery import ConsoleBackend, OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from crm.workers.sender import FLUSH_EVERY, BatchSender
from tests.application.test_delivery_retries import outreach_by_address
from tests.scenarios import planned_campaign
from tests.serving import free_port


class Crash(BaseException):
    """The process dying: nothing after it runs, no `except Exception` sees it."""


class RecordingBackend:
    """Accepts every message and records the order of sends; on the `crash_at`-th send (1-based)
    it dies mid-send, before the server has the message; `fail` maps addresses to errors."""

    name = "recording"
    delivers = True

    def __init__(self, crash_at: int | None = None, fail: dict[str, Exception] | None = None):
        self.crash_at = crash_at
        self.fail = fail or {}
        self.sent: list[str] = []

    def send(self, message: OutgoingMessage) -> None:
        if self.crash_at is not None and len(self.sent) + 1 == self.crash_at:
            raise Crash()
        self.sent.append(message.to_address)
        error = self.fail.get(message.to_address)
        if error is not None:
            raise error


def crash_midway(container, campaign_id, backend, markers) -> None:
    with pytest.raises(Crash):
        BatchSender(container, backend, markers).send(campaign_id, 0)


def test_after_a_crash_only_the_message_in_flight_is_sent_again(application, container, markers):
    _, campaign_id, customers = planned_campaign(application, 60)
    first = RecordingBackend(crash_at=31)
    crash_midway(container, campaign_id, first, markers)
    assert len(first.sent) == 30
    assert FLUSH_EVERY > 30  # none of the 30 outcomes reached the log: only the markers know them

    second = RecordingBackend()
    assert BatchSender(container, second, markers).send(campaign_id, 0) is True

    # Check the 30 sent before the crash went out once, and the rest exactly once more.
    addresses = [f"c{i}@example.com" for i in range(60)]
    assert second.sent == addresses[30:]
    records = outreach_by_address(container, campaign_id, customers)
    assert {a: records[a] for a in addresses[:30]} == {a: ("sent", 1, None) for a in addresses[:30]}
    # The 31st was in flight when the sender died: its second attempt is counted as such.
    assert records[addresses[30]] == ("sent", 2, None)
    assert {a: records[a] for a in addresses[31:]} == {a: ("sent", 1, None) for a in addresses[31:]}
    row = container.campaign_queries.campaign(campaign_id, None)
    assert (row["status"], row["stats"]["sent"], row["stats"]["queued"]) == ("completed", 60, 0)


def test_without_markers_a_crash_sends_again_everything_not_yet_recorded(application, container):
    _, campaign_id, customers = planned_campaign(application, 60)
    crash_midway(container, campaign_id, RecordingBackend(crash_at=31), NoMarkers())

    second = RecordingBackend()
    BatchSender(container, second, NoMarkers()).send(campaign_id, 0)

    assert len(second.sent) == 60  # the behaviour the markers exist to prevent
    assert outreach_by_address(container, campaign_id, customers)["c30@example.com"] == ("sent", 1, None)


def test_a_failure_before_the_crash_is_recorded_from_its_marker_and_not_tried_again(application, container, markers):
    _, campaign_id, customers = planned_campaign(application, 10)
    refused = PermanentDeliveryError("550 mailbox unavailable")
    first = RecordingBackend(crash_at=7, fail={"c2@example.com": refused})
    crash_midway(container, campaign_id, first, markers)

    second = RecordingBackend()
    BatchSender(container, second, markers).send(campaign_id, 0)

    assert second.sent == [f"c{i}@example.com" for i in range(6, 10)]
    records = outreach_by_address(container, campaign_id, customers)
    assert records["c2@example.com"] == ("failed", 1, "550 mailbox unavailable")
    assert records["c6@example.com"] == ("sent", 2, None)


def test_attempts_are_counted_across_crashes_up_to_the_limit(application, container, markers):
    _, campaign_id, customers = planned_campaign(application, 1)
    assert container.settings.delivery_max_attempts == 3
    first = RecordingBackend(crash_at=2, fail={"c0@example.com": TransientDeliveryError("421 busy")})
    crash_midway(container, campaign_id, first, markers)  # attempt 1 failed, attempt 2 in flight

    again = RecordingBackend(fail={"c0@example.com": TransientDeliveryError("421 still busy")})
    BatchSender(container, again, markers).send(campaign_id, 0)

    # Only the third attempt was left: the limit covers the attempts made before the crash.
    assert again.sent == ["c0@example.com"]
    assert outreach_by_address(container, campaign_id, customers) == {
        "c0@example.com": ("failed", 3, "gave up after 3 attempts: 421 still busy")
    }


def test_a_finished_batch_leaves_no_markers_behind(application, container, markers):
    _, campaign_id, _ = planned_campaign(application, 5)
    crash_midway(container, campaign_id, RecordingBackend(crash_at=3), markers)
    assert markers.recall(campaign_id, 0)  # the crash left them

    BatchSender(container, RecordingBackend(), markers).send(campaign_id, 0)

    assert markers.recall(campaign_id, 0) == {}
    assert markers.client.keys("crm:dispatch:*") == []


def test_with_the_marker_store_down_the_batch_is_sent_as_before_and_the_log_says_so(
    application, container, tmp_path, caplog
):
    _, campaign_id, customers = planned_campaign(application, 5)
    down = RedisDispatchMarkers(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(redis.ConnectionError):
        down.client.ping()
    backend = RecordingBackend()

    with caplog.at_level(logging.WARNING, logger="crm.workers.sender"):
        assert BatchSender(container, backend, down).send(campaign_id, 0) is True

    assert len(backend.sent) == 5
    assert set(outreach_by_address(container, campaign_id, customers).values()) == {("sent", 1, None)}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dispatch markers unavailable" in warnings[0]


def test_only_a_backend_that_delivers_is_marked(container, markers):
    # The console backend's "message" is a log line: sending it again after a crash reaches no one,
    # so it is not worth a Redis command per message.
    assert ConsoleBackend().delivers is False
    assert isinstance(BatchSender(container, ConsoleBackend(), markers).markers, NoMarkers)
    assert BatchSender(container, RecordingBackend(), markers).markers is markers
