"""The follower's sweep queues the unfinished work of running campaigns again: a task the broker
lost (or a dead worker still holds) does not leave its campaign running for ever."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from crm.workers import tasks
from crm.workers.embedded import EmbeddedWorker
from crm.workers.follower import CampaignFollower
from crm.write_model import outreaching
from crm.write_model.vocabulary import WORKER_ACTOR
from tests.integration.workers import wait_until

EVERYONE = {"segment_type": "high_spenders", "segment_value": 0, "message_template": "Hi {first_name}"}


class Published:
    """Stands in for a task: records what `delay` was called with, publishes nothing."""

    def __init__(self):
        self.calls: list[tuple] = []

    def delay(self, *args) -> None:
        self.calls.append(args)


class LosingTheFirst:
    """Stands in for `send_batch`: the first publication of each batch is lost, later ones go through."""

    def __init__(self, task):
        self.task = task
        self.lost: list[tuple] = []
        self.published: list[tuple] = []
        self._lock = threading.Lock()

    def delay(self, campaign_id: str, number: int):
        with self._lock:
            first = (campaign_id, number) not in self.lost
            (self.lost if first else self.published).append((campaign_id, number))
        if not first:
            return self.task.delay(campaign_id, number)


def open_campaign(application, restaurant_id, name: str):
    return application.create_campaign(restaurant_id, {"name": name, **EVERYONE}, actor="admin", scope=None)


def test_the_sweep_queues_unresolved_audiences_and_unfinished_batches_of_running_campaigns_only(
    application, container, clock, monkeypatch
):
    monkeypatch.setattr(outreaching, "BATCH_SIZE", 2)  # three customers: batches 0 and 1
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    people = [
        application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None) for i in range(3)
    ]
    half_sent = open_campaign(application, restaurant_id, "Half sent")
    application.run_campaign(half_sent, actor="admin", scope=None)
    application.plan_audience(half_sent, people)
    application.finish_batch(half_sent, 0)
    unresolved = open_campaign(application, restaurant_id, "Never resolved")
    application.run_campaign(unresolved, actor="admin", scope=None)
    paused = open_campaign(application, restaurant_id, "Paused")
    application.run_campaign(paused, actor="admin", scope=None)
    application.plan_audience(paused, people)
    application.pause_campaign(paused, actor="admin", scope=None)
    completed = open_campaign(application, restaurant_id, "Nobody to reach")
    application.run_campaign(completed, actor="admin", scope=None)
    application.plan_audience(completed, [])
    open_campaign(application, restaurant_id, "Draft")
    assert application.stale == []
    resolve, send = Published(), Published()
    monkeypatch.setattr(tasks, "resolve_audience", resolve)
    monkeypatch.setattr(tasks, "send_batch", send)
    follower = CampaignFollower(container)

    # Check the sweep on start (idle or not) queues each piece of unfinished work, once.
    follower.sweep(idle_for=None)
    assert resolve.calls == [(str(unresolved),)]
    assert send.calls == [(str(half_sent), 1)]

    # Check the periodic sweep leaves campaigns that progressed lately to their workers...
    resolve.calls.clear()
    send.calls.clear()
    follower.sweep(idle_for=timedelta(seconds=10))
    assert (resolve.calls, send.calls) == ([], [])
    # ...and queues those idle for longer again.
    clock.advance(seconds=11)
    follower.sweep(idle_for=timedelta(seconds=10))
    assert resolve.calls == [(str(unresolved),)]
    assert send.calls == [(str(half_sent), 1)]


@pytest.fixture
def embedded_worker(container):
    """An embedded worker, not started: the test sets it up first. Stopped and joined after."""
    before = set(threading.enumerate())
    worker = EmbeddedWorker(container)
    yield worker
    worker.stop()
    for thread in set(threading.enumerate()) - before:
        if thread.name in ("campaign-follower", "embedded-celery-worker", "worker-projector"):
            thread.join(timeout=10)
            assert not thread.is_alive(), f"{thread.name} did not stop"


def test_a_batch_task_lost_after_the_start_is_queued_again_by_the_periodic_sweep_and_completes(
    application, container, clock, monkeypatch, embedded_worker
):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    for i in range(3):
        application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None)
    losing = LosingTheFirst(tasks.send_batch)
    monkeypatch.setattr(tasks, "send_batch", losing)
    embedded_worker.follower.sweep_seconds = 0.2
    embedded_worker.start()
    # The follower's first sweep (on becoming active) comes before its first poll: once it has
    # polled, only the periodic sweep can find the campaign below.
    wait_until(lambda: embedded_worker.follower._position is not None, 30, message="the follower polls")

    campaign_id = open_campaign(application, restaurant_id, "Win back")
    application.run_campaign(campaign_id, actor="admin", scope=None)
    wait_until(lambda: losing.lost, 30, 0.02, message="the worker queues the batch (and it is lost)")
    assert losing.lost == [(str(campaign_id), 0)]
    row = container.campaign_queries.campaign(campaign_id, None)
    assert (row["status"], row["stats"]["audience"], row["stats"]["sent"]) == ("running", 3, 0)

    # Check once the campaign has been idle for two sweep periods, the sweep queues the batch again.
    clock.advance(minutes=1)
    row = wait_until(lambda: _completed(container, campaign_id), 60, 0.05, message="the sweep queues it again")
    assert row["stats"] == {
        "audience": 3,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 3,
        "failed": 0,
        "skipped": 0,
    }
    assert losing.published and set(losing.published) == {(str(campaign_id), 0)}


def _completed(container, campaign_id) -> dict | None:
    row = container.campaign_queries.campaign(campaign_id, None)
    return row if row["status"] == "completed" else None


def test_idleness_is_measured_from_the_last_recorded_outcome(application, container, clock):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    people = [
        application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None) for i in range(2)
    ]
    campaign_id = open_campaign(application, restaurant_id, "Win back")
    application.run_campaign(campaign_id, actor="admin", scope=None)
    application.plan_audience(campaign_id, people)
    needing_work = container.campaign_queries.campaigns_needing_work

    assert needing_work(None) == [(campaign_id, True, [0])]
    assert needing_work(clock()) == []  # started just now
    clock.advance(minutes=5)
    assert needing_work(clock() - timedelta(minutes=1)) == [(campaign_id, True, [0])]
    # Check an outcome recorded now makes the campaign progress again.
    first, _ = application.open_batch(campaign_id, 0)
    first.record_sent(1, WORKER_ACTOR, clock())
    application.record_outcomes([first])
    assert needing_work(clock() - timedelta(minutes=1)) == []
    clock.advance(minutes=2)
    assert needing_work(clock() - timedelta(minutes=1)) == [(campaign_id, True, [0])]
