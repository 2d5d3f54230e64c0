"""A key revoked with `crm apikey revoke` is refused by every process of a running `crm serve` within a second."""

from __future__ import annotations

import http.client
import time

import pytest

from tests.browser.served import Served


@pytest.fixture
def server(tmp_path):
    served = Served(tmp_path).start()
    yield served
    served.stop()


def status_with(server: Served, key: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/restaurants/", headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    response.read()
    conn.close()  # a new connection each time: requests spread over the server's processes
    return response.status


def test_a_revoked_key_is_refused_by_every_server_process_within_a_second(server):
    key = server.crm("apikey", "create", "--name", "till", "--admin")
    # Check the key works, and that every process has seen (and remembered) it.
    assert [status_with(server, key) for _ in range(30)] == [200] * 30

    server.crm("apikey", "revoke", "till")
    time.sleep(1.0)  # the documented bound

    assert [status_with(server, key) for _ in range(30)] == [401] * 30
    assert status_with(server, server.key) == 200
