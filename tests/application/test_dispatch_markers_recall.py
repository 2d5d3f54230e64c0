"""What a sender taking over a batch reads back from the dispatch markers (in a real Redis): every
marked outcome, past records that have none; not the markers of the round before a retry-failed;
the outcomes of a batch opened by an earlier version; and, with the store down from the start
or lost mid-batch, a warning that says why and what it risks."""

from __future__ import annotations

import logging

import pytest

from crm.adapters.dispatch_markers import FAILED, Marker, RedisDispatchMarkers
from crm.workers.delivery import OutgoingMessage, PermanentDeliveryError
from crm.workers.sender import BatchSender
from crm.write_model.outreach import AudienceBatch, Outreach, batch_id, outreach_id
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from crm.write_model.vocabulary import ConsentSource
from tests.application.test_delivery_retries import outreach_by_address
from tests.application.test_dispatch_markers import Crash, RecordingBackend
from tests.integration.workers import RedisServer
from tests.scenarios import planned_campaign
from tests.serving import free_port


def addresses(*numbers: int) -> list[str]:
    return [f"c{n}@example.com" for n in numbers]


def test_a_record_without_a_marker_does_not_end_the_recall_of_those_after_it(application, container, markers, caplog):
    _, campaign_id, customers = planned_campaign(application, 8)
    application.unsubscribe_customer(customers[1], source=ConsentSource.API, actor="admin", scope=None)
    refused = {"c3@example.com": PermanentDeliveryError("550 mailbox unavailable")}
    with pytest.raises(Crash):  # c1 skipped (no marker), c0 and c2 to c4 sent or refused, c5 in flight
        BatchSender(container, RecordingBackend(crash_at=5, fail=refused), markers).send(campaign_id, 0)

    second = RecordingBackend()
    with caplog.at_level(logging.INFO, logger="crm.workers.sender"):
        assert BatchSender(container, second, markers).send(campaign_id, 0) is True

    # Check only the message in flight and those never tried go out again.
    assert second.sent == addresses(5, 6, 7)
    records = outreach_by_address(container, campaign_id, customers)
    assert [records[a] for a in addresses(0, 2, 3, 4)] == [
        ("sent", 1, None),
        ("sent", 1, None),
        ("failed", 1, "550 mailbox unavailable"),
        ("sent", 1, None),
    ]
    assert records["c1@example.com"] == ("skipped", 0, "unsubscribed")
    # Check the outcomes read back from the markers are logged, and recorded as the worker's.
    recalled = f"recorded 4 outcomes of campaign {campaign_id} batch 0 from dispatch markers"
    assert recalled in [r.getMessage() for r in caplog.records]
    events = container.application.events.get(batch_id(campaign_id, 0))
    assert {e.actor for e in events if isinstance(e, AudienceBatch.OutcomesRecorded)} == {WORKER}


def test_the_markers_of_the_round_before_a_retry_failed_are_not_taken_for_this_rounds(application, container, markers):
    _, campaign_id, customers = planned_campaign(application, 3)
    refused = {a: PermanentDeliveryError("550 mailbox unavailable") for a in addresses(1, 2)}
    BatchSender(container, RecordingBackend(fail=refused), markers).send(campaign_id, 0)
    application.retry_failed(campaign_id, actor="admin", scope=None)
    # The first round's marker of c1 outlived it (forgetting them failed: they expire on their
    # own), and c2's second attempt failed just before its sender died, with no reason given.
    c1, c2 = (outreach_id(campaign_id, customers[n]) for n in (1, 2))
    markers.mark(campaign_id, 0, {c1: Marker(1, FAILED, "550 mailbox unavailable"), c2: Marker(2, FAILED)})

    second = RecordingBackend()
    assert BatchSender(container, second, markers).send(campaign_id, 0) is True

    assert second.sent == addresses(1)
    records = outreach_by_address(container, campaign_id, customers)
    assert records["c1@example.com"] == ("sent", 2, None)
    assert records["c2@example.com"] == ("failed", 2, "failed")


def test_a_batch_opened_by_an_earlier_version_is_recalled_from_its_markers(application, container, clock, markers):
    restaurant_id, campaign_id, customers = planned_campaign(application, 4)
    batch = application.repository.get(batch_id(campaign_id, 0))
    legacy = [Outreach.queue(campaign_id, c, restaurant_id, WORKER, clock()) for c in customers]
    batch.mark_outreach_created(WORKER, clock())
    application.save(batch, *legacy)
    with pytest.raises(Crash):
        BatchSender(container, RecordingBackend(crash_at=3), markers).send(campaign_id, 0)

    second = RecordingBackend()
    assert BatchSender(container, second, markers).send(campaign_id, 0) is True

    assert second.sent == addresses(2, 3)
    records = outreach_by_address(container, campaign_id, customers)
    assert [records[a] for a in addresses(0, 1, 2, 3)] == [("sent", 1, None)] * 2 + [
        ("sent", 2, None),
        ("sent", 1, None),
    ]


WARNING_TAIL = (
    "): until this batch ends, a crash may send again up to 100 messages already sent, and count their attempts from 1"
)


def test_with_the_marker_store_down_the_warning_says_why_and_what_it_risks(application, container, caplog):
    _, campaign_id, _ = planned_campaign(application, 2)
    port = free_port()  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="crm.workers.sender"):
        BatchSender(container, RecordingBackend(), RedisDispatchMarkers(f"redis://127.0.0.1:{port}/0")).send(
            campaign_id, 0
        )

    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("dispatch markers unavailable (") and warning.endswith(WARNING_TAIL)
    assert f"127.0.0.1:{port}" in warning


class StoppingBackend(RecordingBackend):
    """Stops the marker store right after the first send."""

    def __init__(self, server: RedisServer):
        super().__init__()
        self.server = server

    def send(self, message: OutgoingMessage) -> None:
        super().send(message)
        if len(self.sent) == 1:
            self.server.stop()


@pytest.fixture
def own_marker_store(tmp_path):
    """A marker store of the test's own, to stop at will."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_a_marker_store_lost_mid_batch_is_warned_of_with_its_cause(application, container, own_marker_store, caplog):
    _, campaign_id, _ = planned_campaign(application, 4)
    server = own_marker_store
    backend = StoppingBackend(server)
    with caplog.at_level(logging.WARNING, logger="crm.workers.sender"):
        assert BatchSender(container, backend, RedisDispatchMarkers(server.url)).send(campaign_id, 0) is True

    assert backend.sent == addresses(0, 1, 2, 3)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("dispatch markers unavailable (") and warning.endswith(WARNING_TAIL)
    cause = warning.removeprefix("dispatch markers unavailable (").removesuffix(WARNING_TAIL)
    assert "Connection" in cause  # the Redis client's words: closed, or refused
