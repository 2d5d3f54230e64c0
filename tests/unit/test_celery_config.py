"""The Celery app is configured for at-least-once work with idempotent tasks."""

import pytest

from crm.config import Settings
from crm.workers import celery_app


def test_at_least_once_settings():
    conf = celery_app.create_celery(Settings(broker_url="redis://127.0.0.1:6379/0", secret_key="s")).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert conf.broker_url == "redis://127.0.0.1:6379/0"


def test_without_a_broker_the_embedded_memory_transport_is_used():
    conf = celery_app.create_celery(Settings(secret_key="s")).conf
    assert conf.broker_url == "memory://"


@pytest.mark.parametrize(("platform", "pool"), [("linux", "prefork"), ("darwin", "prefork"), ("win32", "solo")])
def test_the_pool_follows_the_platform(monkeypatch, platform, pool):
    monkeypatch.setattr(celery_app.sys, "platform", platform)
    assert celery_app.create_celery(Settings(secret_key="s")).conf.worker_pool == pool
