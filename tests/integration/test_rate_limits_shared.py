"""With a broker configured, rate limits are counted in Redis: every web process shares them."""

import socket
import threading
import time
from dataclasses import replace

import pytest

from crm import bootstrap
from crm.http import create_app, rate_limits
from tests.integration.workers import RedisServer, free_port


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(free_port(), tmp_path).start()
    yield server
    server.stop()


def test_two_web_processes_share_one_limit_and_survive_redis_going_away(settings, clock, redis_server):
    limited = replace(settings, broker_url=redis_server.url, rate_limit="4/minute")
    containers = [bootstrap.build(limited, clock=clock) for _ in range(2)]
    try:
        key = containers[0].api_keys.issue("shared", None)
        headers = {"Authorization": f"Bearer {key}"}
        clients = [create_app(container=c).test_client() for c in containers]
        statuses = [clients[n % 2].get("/api/restaurants/", headers=headers).status_code for n in range(5)]
        assert statuses == [200, 200, 200, 200, 429]  # 2 + 2 counted together, the fifth refused
        # Check a request is still served when Redis is gone (limits fall back to memory).
        redis_server.stop()
        other = {"Authorization": f"Bearer {containers[0].api_keys.issue('other', None)}"}
        assert clients[0].get("/api/restaurants/", headers=other).status_code == 200
    finally:
        for container in containers:
            container.close()


def test_counting_returns_to_redis_once_it_is_back(settings, clock, redis_server, monkeypatch):
    monkeypatch.setattr(rate_limits, "FALLBACK_SECONDS", 0.2)
    limited = replace(settings, broker_url=redis_server.url, rate_limit="3/minute")
    containers = [bootstrap.build(limited, clock=clock) for _ in range(2)]
    try:
        key = containers[0].api_keys.issue("back", None)
        headers = {"Authorization": f"Bearer {key}"}
        clients = [create_app(container=c).test_client() for c in containers]
        redis_server.stop()
        assert clients[0].get("/api/restaurants/", headers=headers).status_code == 200  # counted in memory
        redis_server.start()  # empty: the restarted server keeps no counts
        time.sleep(0.3)  # past the fallback window: the next request tries Redis again

        statuses = [clients[n % 2].get("/api/restaurants/", headers=headers).status_code for n in range(4)]

        assert statuses == [200, 200, 200, 429]  # one count again, shared by both processes
    finally:
        for container in containers:
            container.close()


def test_a_redis_that_stops_answering_costs_a_request_a_second_not_a_hang(settings, clock):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections complete in the kernel's backlog; nothing ever answers
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        container = bootstrap.build(replace(settings, broker_url=url, rate_limit="4/minute"), clock=clock)
        try:
            client = create_app(container=container).test_client()
            headers = {"Authorization": f"Bearer {container.api_keys.issue('silent', None)}"}
            statuses: list[int] = []
            requests = threading.Thread(
                target=lambda: statuses.extend(
                    client.get("/api/restaurants/", headers=headers).status_code for _ in range(5)
                ),
                daemon=True,  # without a timeout on Redis, it would wait for ever
            )
            requests.start()

            requests.join(15)  # the first request gives up on Redis after 1 s

            assert not requests.is_alive(), "a request is still waiting for Redis"
            assert statuses == [200, 200, 200, 200, 429]  # counted in memory meanwhile, limit and all
        finally:
            container.close()
