"""A batch sent by BatchSender while operators and customers act: a pause or a cancel stops it
before the next message, an unsubscribe made while it sends is honoured, outcomes are saved every
FLUSH_EVERY messages, and the restaurant's frequency cap holds across campaigns. And what each
message carries, the waits between retries, and a backend that breaks."""

from __future__ import annotations

import logging
import time

import pytest

from crm.workers import sender
from crm.workers.delivery import OutgoingMessage, PermanentDeliveryError, TransientDeliveryError
from crm.workers.sender import FLUSH_EVERY, BatchSender
from crm.write_model.outreach import AudienceBatch, batch_id, outreach_id
from crm.write_model.vocabulary import ConsentSource
from tests.application.test_delivery_retries import outreach_by_address
from tests.application.test_dispatch_markers import Crash
from tests.scenarios import _id, planned_campaign

QUEUED, SENT = ("queued", 0, None), ("sent", 1, None)


class ActingBackend:
    """Accepts every message and records the order of sends. Right after the `at`-th send
    (1-based) it runs `action` (someone's command arriving while the batch is sent) and `wait`s,
    by default long enough for the sender to look again; `refuse` maps addresses to errors."""

    name = "acting"
    delivers = True

    def __init__(self, at: int | None = None, action=None, refuse: dict[str, Exception] | None = None, wait=None):
        self.at, self.action = at, action
        self.refuse = refuse or {}
        self.wait = wait or (lambda: time.sleep(max(sender.STATUS_CHECK_SECONDS, sender.CONSENT_CHECK_SECONDS) * 5))
        self.sent: list[str] = []
        self.messages: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        self.sent.append(message.to_address)
        self.messages.append(message)
        if len(self.sent) == self.at:
            self.action()
            self.wait()
        if message.to_address in self.refuse:
            raise self.refuse[message.to_address]


def addresses(first: int, last: int) -> list[str]:
    return [f"c{i}@example.com" for i in range(first, last)]


def outcome_events(container, campaign_id) -> list[AudienceBatch.OutcomesRecorded]:
    events = container.application.events.get(batch_id(campaign_id, 0))
    return [event for event in events if isinstance(event, AudienceBatch.OutcomesRecorded)]


def test_a_campaign_paused_mid_batch_stops_before_the_next_message_and_resumes_where_it_stopped(application, container):
    _, campaign_id, customers = planned_campaign(application, 10)
    pause = ActingBackend(at=3, action=lambda: application.pause_campaign(campaign_id, actor="admin", scope=None))

    assert BatchSender(container, pause).send(campaign_id, 0) is False

    # Check the three sent are recorded and the rest still queued.
    assert pause.sent == addresses(0, 3)
    records = outreach_by_address(container, campaign_id, customers)
    assert records == {**dict.fromkeys(addresses(0, 3), SENT), **dict.fromkeys(addresses(3, 10), QUEUED)}
    # Check a paused campaign's batch sends nothing, and after the resume only the rest goes out.
    idle = ActingBackend()
    assert BatchSender(container, idle).send(campaign_id, 0) is False
    assert idle.sent == []
    application.resume_campaign(campaign_id, actor="admin", scope=None)
    rest = ActingBackend()
    assert BatchSender(container, rest).send(campaign_id, 0) is True
    assert rest.sent == addresses(3, 10)
    assert container.campaign_queries.campaign(campaign_id, None)["status"] == "completed"


def test_a_campaign_cancelled_mid_batch_skips_every_message_not_yet_sent(application, container):
    _, campaign_id, customers = planned_campaign(application, 10)
    cancel = ActingBackend(at=3, action=lambda: application.cancel_campaign(campaign_id, actor="admin", scope=None))

    assert BatchSender(container, cancel).send(campaign_id, 0) is False

    assert cancel.sent == addresses(0, 3)
    skipped = ("skipped", 0, "campaign cancelled")
    records = outreach_by_address(container, campaign_id, customers)
    assert records == {**dict.fromkeys(addresses(0, 3), SENT), **dict.fromkeys(addresses(3, 10), skipped)}
    # Check the worker is the one recorded as having skipped them, at the time of the cancel.
    events = outcome_events(container, campaign_id)
    assert {(event.actor, event.timestamp) for event in events} == {("worker", container.application.clock())}


def test_an_unsubscribe_while_the_batch_is_sent_is_honoured_by_the_messages_after_it(application, container):
    _, campaign_id, customers = planned_campaign(application, 12)
    application.delete_customer(customers[9], actor="admin", scope=None)  # absent from the recipients

    def unsubscribe():
        for customer_id in (customers[5], customers[11]):
            application.unsubscribe_customer(customer_id, source=ConsentSource.ONE_CLICK, actor="link", scope=None)

    backend = ActingBackend(at=2, action=unsubscribe)
    assert BatchSender(container, backend).send(campaign_id, 0) is True

    not_sent = ("c5@example.com", "c9@example.com", "c11@example.com")
    assert backend.sent == [address for address in addresses(0, 12) if address not in not_sent]
    records = outreach_by_address(container, campaign_id, customers)
    assert records["c5@example.com"] == records["c11@example.com"] == ("skipped", 0, "unsubscribed")
    assert records["c9@example.com"] == ("skipped", 0, "customer removed since the campaign started")
    assert {event.actor for event in outcome_events(container, campaign_id)} == {"worker"}


class FrozenTime:
    """Stands in for the `time` module of the sender: time passes only when told to."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_every_message_is_sent_after_a_reading_of_its_consent_that_included_it(application, container, monkeypatch):
    clock = FrozenTime()
    monkeypatch.setattr(sender, "time", clock)
    _, campaign_id, customers = planned_campaign(application, 20)
    ahead = sender.CONSENT_AHEAD

    def unsubscribe_and_wait():
        # c(1 + ahead) unsubscribes; then time passes, so the next message reads again the consent
        # of the `ahead` recipients from c1 on: c(1 + ahead) is the first one that reading left out.
        late = customers[1 + ahead]
        application.unsubscribe_customer(late, source=ConsentSource.ONE_CLICK, actor="link", scope=None)
        clock.sleep(1)

    backend = ActingBackend(at=1, action=unsubscribe_and_wait, wait=lambda: None)
    assert BatchSender(container, backend).send(campaign_id, 0) is True

    late = f"c{1 + ahead}@example.com"
    assert late not in backend.sent and len(backend.sent) == 19
    assert outreach_by_address(container, campaign_id, customers)[late] == ("skipped", 0, "unsubscribed")


def test_outcomes_are_saved_every_flush_every_messages(application, container, monkeypatch):
    monkeypatch.setattr(sender, "FLUSH_SECONDS", 3600)  # only the count decides here
    _, campaign_id, _ = planned_campaign(application, FLUSH_EVERY + 20)

    def crash():
        raise Crash()

    with pytest.raises(Crash):
        BatchSender(container, ActingBackend(at=FLUSH_EVERY + 10, action=crash)).send(campaign_id, 0)

    # Check the first FLUSH_EVERY outcomes reached the log before the crash, in one event, and no more.
    [event] = outcome_events(container, campaign_id)
    assert len(event.outcomes) == FLUSH_EVERY
    assert {outcome["status"] for outcome in event.outcomes} == {"sent"}


def test_the_frequency_cap_holds_across_campaigns_and_a_failed_message_does_not_count(application, container):
    restaurant_id = _id(application.open_restaurant("Pizza Palace", actor="admin", frequency_cap=(1, 7)))
    customers = [
        _id(application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None)) for i in range(2)
    ]

    def campaign() -> object:
        details = {"name": "Hello", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"}
        campaign_id = _id(application.create_campaign(restaurant_id, details, actor="admin", scope=None))
        application.run_campaign(campaign_id, actor="admin", scope=None)
        application.plan_audience(campaign_id, customers)
        return campaign_id

    first, second = campaign(), campaign()
    refused = {"c1@example.com": PermanentDeliveryError("550 mailbox unavailable")}
    assert BatchSender(container, ActingBackend(refuse=refused)).send(first, 0) is True
    backend = ActingBackend()
    assert BatchSender(container, backend).send(second, 0) is True

    # Check c0 got the first campaign only; c1's first message failed, so the second one went out.
    assert backend.sent == ["c1@example.com"]
    records = outreach_by_address(container, second, customers)
    assert records == {"c0@example.com": ("skipped", 0, "frequency_capped"), "c1@example.com": SENT}
    for campaign_id in (first, second):
        assert {event.actor for event in outcome_events(container, campaign_id)} == {"worker"}
    # Check a third campaign within the week reaches no one.
    third = campaign()
    nobody = ActingBackend()
    BatchSender(container, nobody).send(third, 0)
    assert nobody.sent == []


def test_each_message_carries_its_ids_and_its_recipients_unsubscribe_link(application, container):
    restaurant_id = _id(application.open_restaurant("Pizza Palace", actor="admin"))
    customer_id = _id(application.register_customer(restaurant_id, "ann@example.com", "Ann", actor="a", scope=None))
    details = {
        "name": "Hello",
        "segment_type": "inactive_days",
        "segment_value": 0,
        "subject": "{first_name}, leave at {unsubscribe_url}",
        "message_template": "Hi {first_name}",
    }
    campaign_id = _id(application.create_campaign(restaurant_id, details, actor="admin", scope=None))
    application.run_campaign(campaign_id, actor="admin", scope=None)
    application.plan_audience(campaign_id, [customer_id])
    backend = ActingBackend()

    BatchSender(container, backend).send(campaign_id, 0)

    [message] = backend.messages
    link = container.unsubscribe_links.url(customer_id, campaign_id)
    assert (message.outreach_id, message.campaign_id, message.customer_id) == (
        outreach_id(campaign_id, customer_id),
        campaign_id,
        customer_id,
    )
    assert (message.to_address, message.unsubscribe_url, message.subject) == (
        "ann@example.com",
        link,
        f"Ann, leave at {link}",
    )
    assert message.body.startswith("Hi Ann") and link in message.body


def test_retries_wait_the_backoff_then_twice_as_long(application, container, monkeypatch):
    clock = FrozenTime()
    monkeypatch.setattr(sender, "time", clock)
    _, campaign_id, _ = planned_campaign(application, 1)
    assert container.settings.delivery_max_attempts == 3

    BatchSender(container, ActingBackend(refuse={"c0@example.com": TransientDeliveryError("421 busy")})).send(
        campaign_id, 0
    )

    assert clock.slept == [sender.BACKOFF_SECONDS, 2 * sender.BACKOFF_SECONDS]


def test_a_backend_that_breaks_is_logged_by_name(application, container, caplog):
    _, campaign_id, _ = planned_campaign(application, 1)
    with caplog.at_level(logging.ERROR, logger="crm.workers.sender"):
        BatchSender(container, ActingBackend(refuse={"c0@example.com": RuntimeError("a bug")})).send(campaign_id, 0)

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "delivery backend acting raised unexpectedly" and record.exc_info is not None
