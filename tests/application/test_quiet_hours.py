"""Quiet hours: no message goes out inside the restaurant's window. A sender stops its batch
when the window begins, leaving the rest queued; nothing queues the batch again while the window
lasts; when it ends the follower queues it and the campaign completes, one record per recipient."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import select

from crm.read_model.tables import outreach_events
from crm.workers import runtime, tasks
from crm.workers.embedded import EmbeddedWorker
from crm.workers.sender import BatchSender
from tests.application.test_delivery_retries import outreach_by_address
from tests.integration.workers import wait_until
from tests.scenarios import planned_campaign

# 21:59:00 in Paris on an ordinary winter evening (UTC+1); quiet hours 22:00 -> 08:00 local.
EVENING = datetime(2026, 1, 10, 20, 59, 0, tzinfo=timezone.utc)
OPENING = datetime(2026, 1, 11, 7, 0, 0, tzinfo=timezone.utc)  # 08:00 in Paris
EVERYONE = {"segment_type": "high_spenders", "segment_value": 0, "message_template": "Hi {first_name}"}


class ClosingBackend:
    """Accepts every message, noting the clock's time of each; after the `after`-th it moves
    the clock to `to` (the window begins while the batch is sent)."""

    name = "closing"
    delivers = True

    def __init__(self, clock, after: int, to: datetime):
        self.clock, self.after, self.to = clock, after, to
        self.sent: list[tuple[str, datetime]] = []

    def send(self, message) -> None:
        self.sent.append((message.to_address, self.clock()))
        if len(self.sent) == self.after:
            self.clock.now = self.to


def quiet_from_ten_to_eight(application, restaurant_id) -> None:
    application.update_restaurant(
        restaurant_id,
        actor="admin",
        scope=None,
        timezone="Europe/Paris",
        quiet_hours_start="22:00",
        quiet_hours_end="08:00",
    )


def statuses(container, campaign_id) -> list[str]:
    with container.engine.connect() as conn:
        query = select(outreach_events.c.status).where(outreach_events.c.campaign_id == campaign_id)
        return sorted(conn.execute(query).scalars())


def test_a_batch_stops_when_the_window_begins_and_goes_on_only_after_it_ends(application, container, clock):
    clock.now = EVENING
    restaurant_id, campaign_id, customers = planned_campaign(application, 10)
    quiet_from_ten_to_eight(application, restaurant_id)
    closing = ClosingBackend(clock, after=4, to=EVENING.replace(minute=0, hour=21))  # 22:00:00 local

    assert BatchSender(container, closing).send(campaign_id, 0) is False

    # Check the four sent before 22:00 are recorded and the rest still queued: nothing skipped or failed.
    assert [address for address, _ in closing.sent] == [f"c{i}@example.com" for i in range(4)]
    records = outreach_by_address(container, campaign_id, customers)
    assert sorted(status for status, _, _ in records.values()) == ["queued"] * 6 + ["sent"] * 4
    # Check a sender inside the window returns at once, sending nothing, at 23:30 and at 07:59:59.
    for moment in (datetime(2026, 1, 10, 22, 30, tzinfo=timezone.utc), OPENING.replace(hour=6, minute=59, second=59)):
        clock.now = moment
        idle = ClosingBackend(clock, after=0, to=moment)
        assert BatchSender(container, idle).send(campaign_id, 0) is False
        assert idle.sent == []
    assert container.campaign_queries.campaign(campaign_id, None)["stats"]["queued"] == 6

    clock.now = OPENING
    rest = ClosingBackend(clock, after=0, to=OPENING)
    assert BatchSender(container, rest).send(campaign_id, 0) is True

    assert [address for address, _ in rest.sent] == [f"c{i}@example.com" for i in range(4, 10)]
    assert all(at >= OPENING for _, at in rest.sent)
    row = container.campaign_queries.campaign(campaign_id, None)
    assert row["status"] == "completed" and statuses(container, campaign_id) == ["sent"] * 10


def test_a_window_that_begins_later_is_sent_through_and_a_cleared_one_holds_nothing(application, container, clock):
    clock.now = EVENING.replace(hour=8)  # 09:00 local: the window begins at 22:00
    restaurant_id, campaign_id, _ = planned_campaign(application, 3)
    quiet_from_ten_to_eight(application, restaurant_id)

    backend = ClosingBackend(clock, after=0, to=clock.now)
    assert BatchSender(container, backend).send(campaign_id, 0) is True
    assert len(backend.sent) == 3

    # Check no quiet hours (both null) hold nothing back, at any hour.
    clock.now = EVENING.replace(hour=23)
    _, second, _ = planned_campaign(application, 2)
    assert BatchSender(container, ClosingBackend(clock, after=0, to=clock.now)).send(second, 0) is True


class Counted:
    """Stands in for `send_batch`: counts the publications, then publishes."""

    def __init__(self, task):
        self.task, self.calls = task, 0

    def delay(self, *args):
        self.calls += 1
        return self.task.delay(*args)


def test_a_campaign_waits_through_the_window_unswept_and_completes_when_it_ends(
    application, container, clock, monkeypatch
):
    clock.now = EVENING
    restaurant_id = application.open_restaurant("Chez Nous", "Europe/Paris", actor="admin")
    application.update_restaurant(
        restaurant_id, actor="admin", scope=None, quiet_hours_start="22:00", quiet_hours_end="08:00"
    )
    people = {
        application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None) for i in range(30)
    }
    clock.advance(seconds=1)
    campaign_id = application.create_campaign(restaurant_id, {"name": "Tonight", **EVERYONE}, actor="admin", scope=None)
    closing = ClosingBackend(clock, after=12, to=EVENING.replace(hour=21))  # 22:00 local after 12 messages
    monkeypatch.setattr(runtime, "backend", lambda: closing)
    counted = Counted(tasks.send_batch)
    monkeypatch.setattr(tasks, "send_batch", counted)
    worker = EmbeddedWorker(container)
    worker.follower.sweep_seconds = 0.2
    worker.start()
    try:
        application.run_campaign(campaign_id, actor="admin", scope=None)

        # Check the campaign stops at 12 sent with 18 queued, still running.
        stopped = lambda: container.campaign_queries.campaign(campaign_id, None)["stats"]["queued"] == 18  # noqa: E731
        wait_until(stopped, 10, message="never stopped")
        row = container.campaign_queries.campaign(campaign_id, None)
        assert row["status"] == "running" and row["stats"]["sent"] == 12 and len(closing.sent) == 12
        # Check the sweep notes it as waiting until 08:00 local, once it has been idle a while.
        clock.now = OPENING.replace(hour=3)
        wait_until(lambda: worker.follower.waiting.get(campaign_id) == OPENING, 10, message="never waited")
        # Check nothing queues its batch again while the window lasts (the sweep runs every 0.2 s).
        published = counted.calls
        time.sleep(1.5)
        assert counted.calls == published and len(closing.sent) == 12
        # A pause and a resume during the wait: the resume's batch finds the window closed.
        application.pause_campaign(campaign_id, actor="admin", scope=None)
        application.resume_campaign(campaign_id, actor="admin", scope=None)
        time.sleep(0.5)
        assert len(closing.sent) == 12

        clock.now = OPENING
        wait_until(
            lambda: container.campaign_queries.campaign(campaign_id, None)["status"] == "completed",
            10,
            message="not completed after the window",
        )
    finally:
        worker.stop()

    assert len(closing.sent) == 30 and all(at < EVENING.replace(hour=21) or at >= OPENING for _, at in closing.sent)
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(outreach_events.c.customer_id, outreach_events.c.status).where(
                outreach_events.c.campaign_id == campaign_id
            )
        ).all()
    assert len(rows) == 30 and {r.customer_id for r in rows} == people and {r.status for r in rows} == {"sent"}
