"""With a broker configured, rate limits are counted in Redis: every web process shares them."""

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import replace

import pytest
import redis
from limits import parse

from crm import bootstrap
from crm.http import create_app, rate_leases, rate_limits
from tests.integration.workers import RedisServer


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@contextmanager
def two_web_processes(settings, clock, broker_url: str, rate_limit: str, key_name: str):
    """Two apps, each with its own container (as two gunicorn processes), and an API key's headers."""
    limited = replace(settings, broker_url=broker_url, rate_limit=rate_limit)
    containers = [bootstrap.build(limited, clock=clock) for _ in range(2)]
    try:
        headers = {"Authorization": f"Bearer {containers[0].api_keys.issue(key_name, None)}"}
        yield [create_app(container=c).test_client() for c in containers], headers, containers[0]
    finally:
        for container in containers:
            container.close()


def test_two_web_processes_share_one_limit_and_survive_redis_going_away(settings, clock, redis_server):
    with two_web_processes(settings, clock, redis_server.url, "4/minute", "shared") as (clients, headers, container):
        statuses = [clients[n % 2].get("/api/restaurants/", headers=headers).status_code for n in range(5)]
        assert statuses == [200, 200, 200, 200, 429]  # 2 + 2 counted together, the fifth refused
        # Check a request is still served when Redis is gone (limits fall back to memory).
        redis_server.stop()
        other = {"Authorization": f"Bearer {container.api_keys.issue('other', None)}"}
        assert clients[0].get("/api/restaurants/", headers=other).status_code == 200


def test_counting_returns_to_redis_once_it_is_back(settings, clock, redis_server, monkeypatch):
    monkeypatch.setattr(rate_limits, "FALLBACK_SECONDS", 0.2)
    with two_web_processes(settings, clock, redis_server.url, "3/minute", "back") as (clients, headers, _):
        redis_server.stop()
        assert clients[0].get("/api/restaurants/", headers=headers).status_code == 200  # counted in memory
        redis_server.start()  # empty: the restarted server keeps no counts
        time.sleep(0.3)  # past the fallback window: the next request tries Redis again

        statuses = [clients[n % 2].get("/api/restaurants/", headers=headers).status_code for n in range(4)]

        assert statuses == [200, 200, 200, 429]  # one count again, shared by both processes


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


def test_processes_take_a_large_limit_from_redis_in_blocks_and_never_exceed_it(settings, clock, redis_server):
    # 256 a minute: each Redis round trip takes a lease of 4 requests (lease_size).
    with two_web_processes(settings, clock, redis_server.url, "256/minute", "leased") as (clients, headers, _):
        client = redis.Redis.from_url(redis_server.url)
        client.config_resetstat()
        statuses = [clients[n % 2].get("/api/restaurants/", headers=headers).status_code for n in range(300)]
        takes = client.info("commandstats")["cmdstat_evalsha"]["calls"]

    served = statuses.count(200)
    # Check the limit held, and was refused early by at most what the other process leased and
    # did not spend (3 of a lease of 4); then everything after is refused.
    assert 256 - 3 <= served <= 256
    assert statuses[:served] == [200] * served and set(statuses[served:]) == {429}
    # Check one round trip served a lease of 4 (and each refused request asked once more).
    assert takes <= 256 // 4 + 2 + (300 - served)


def test_a_lease_ends_with_its_window(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    leases = rate_leases.SharedLeases(client, "test")
    limit = parse("256/second")  # leases of 4
    key = f"test/{limit.key_for('all', 'k')}"
    assert leases.hit(limit, "all", "k") is None
    assert int(client.get(key)) == 4
    time.sleep(1.1)  # the window ended with 3 of the lease unspent

    assert leases.hit(limit, "all", "k") is None

    assert int(client.get(key)) == 4  # a new window's lease: the old one's rest was dropped


def test_threads_of_two_processes_at_a_limit_never_exceed_it(redis_server):
    limit = parse("256/minute")
    processes = [rate_leases.SharedLeases(redis.Redis.from_url(redis_server.url), "test") for _ in range(2)]
    allowed: list[bool] = []

    def send(leases):
        for _ in range(100):
            allowed.append(leases.hit(limit, "all", "busy") is None)

    threads = [threading.Thread(target=send, args=(leases,)) for leases in processes for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(allowed) == 800
    # At most the limit; at least all but what each process could have left unspent of a lease
    # of 4 (leases its threads took at once are all spent, none overwritten by another's).
    assert 256 - 2 * 3 <= allowed.count(True) <= 256


def test_leases_a_process_s_threads_take_at_once_are_all_spent(redis_server):
    limit = parse("256/minute")  # leases of 4
    leases = rate_leases.SharedLeases(redis.Redis.from_url(redis_server.url), "test")
    take = leases._take

    def slow_take(**arguments):  # Redis answers late: the other threads run out and take leases too
        answer = take(**arguments)
        time.sleep(0.01)
        return answer

    leases._take = slow_take
    allowed: list[bool] = []

    def send():
        for _ in range(40):
            allowed.append(leases.hit(limit, "all", "busy") is None)
            time.sleep(0.002)  # the request's work: a lease taken is not spent at once

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One process: every lease it took is spent before it is refused, so exactly the limit.
    assert len(allowed) == 320 and allowed.count(True) == 256
