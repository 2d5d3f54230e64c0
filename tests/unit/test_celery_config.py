"""The Celery app is configured for at-least-once work with idempotent tasks."""

import logging
import socket
import subprocess
import sys
import time

import pytest
from kombu import Consumer, Producer, Queue

from crm.config import Settings
from crm.workers import celery_app


def test_at_least_once_settings():
    conf = celery_app.create_celery(Settings(broker_url="redis://127.0.0.1:6379/0", secret_key="s")).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.broker_url == "redis://127.0.0.1:6379/0"


def test_without_a_broker_the_embedded_memory_transport_is_used(caplog):
    app = celery_app.create_celery(Settings(secret_key="s"))
    assert app.conf.broker_url == "memory://localhost/"
    assert app.conf.broker_transport == "crm.workers.memory_broker:Transport"
    # Check the worker's start (its banner reads the connection's info) logs no warning that
    # kombu picked a host: there is none to pick.
    with caplog.at_level(logging.WARNING, logger="kombu.connection"), app.connection_for_write() as connection:
        connection.info()
    assert not [r for r in caplog.records if r.name == "kombu.connection"]


def test_a_broker_url_keeps_its_own_transport():
    conf = celery_app.create_celery(Settings(broker_url="redis://127.0.0.1:6379/0", secret_key="s")).conf
    assert conf.broker_transport is None


def test_the_embedded_transport_hands_over_a_task_and_gives_control_back_within_its_drain():
    app = celery_app.create_celery(Settings(secret_key="s"))
    with app.connection_for_write() as connection:
        assert type(connection.transport).__module__ == "crm.workers.memory_broker"
        # Check an empty drain returns long before Celery's 2-second timeout (so a stopping
        # worker notices at once) ...
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            connection.drain_events(timeout=2.0)
        assert time.monotonic() - started < 1.0
        # ... and a message published meanwhile is delivered by the next drain.
        received = []
        queue = Queue("crm-test")
        with Consumer(connection, [queue], callbacks=[lambda body, message: received.append(body)]):
            Producer(connection).publish("hello", routing_key="crm-test", declare=[queue])
            connection.drain_events(timeout=2.0)
        assert received == ["hello"]


@pytest.mark.parametrize(("platform", "pool"), [("linux", "prefork"), ("darwin", "prefork"), ("win32", "solo")])
def test_the_pool_follows_the_platform(monkeypatch, platform, pool):
    monkeypatch.setattr(celery_app.sys, "platform", platform)
    assert celery_app.create_celery(Settings(secret_key="s")).conf.worker_pool == pool


def test_a_worker_process_does_not_load_the_web_libraries():
    """Each of `crm worker`'s processes holds what it imports (three copies with `-c 2`):
    werkzeug, needed only to check a dashboard password, and Flask stay out of them."""
    code = "import sys, crm.workers.tasks; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for web_library in ("'werkzeug'", "'flask'", "'flask_smorest'", "'marshmallow'"):
        assert web_library not in loaded
    assert "'celery'" in loaded
