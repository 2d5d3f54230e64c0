"""Short questions to the broker (Redis) for health checks and metrics: is it there, how much
waits in the task queue. Each opens its own connection with a 1 s timeout, and raises
`redis.RedisError` when the broker does not answer."""

from __future__ import annotations

from contextlib import contextmanager

import redis

TASK_QUEUE = "crm"  # Celery's task_default_queue (crm/workers/celery_app.py)


@contextmanager
def _client(url: str):
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        yield client
    finally:
        client.close()


def ping(url: str) -> None:
    with _client(url) as client:
        client.ping()


def queue_depth(url: str, queue: str = TASK_QUEUE) -> int:
    with _client(url) as client:
        return int(client.llen(queue))
