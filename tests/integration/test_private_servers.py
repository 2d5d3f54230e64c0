"""The tests' private servers are the ones answering on their ports (tests/serving.py)."""

from __future__ import annotations

from tests import serving
from tests.integration.workers import RedisServer


def test_a_private_redis_server_is_the_one_answering_on_its_port_after_a_restart(tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        port = server.port
        assert serving.listener(server.process, port) == "ours"
        server.stop()
        server.start()  # where its clients expect it
        assert server.port == port and serving.listener(server.process, port) == "ours"
    finally:
        server.stop()
