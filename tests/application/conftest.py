"""Fixtures of the application tier: a private Redis for the dispatch markers."""

from __future__ import annotations

import pytest

from crm.adapters.dispatch_markers import RedisDispatchMarkers
from tests.integration.workers import RedisServer


@pytest.fixture(scope="module")
def marker_store(tmp_path_factory):
    """A redis-server of the module's own."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def markers(marker_store):
    """Dispatch markers in that Redis, empty."""
    store = RedisDispatchMarkers(marker_store.url)
    store.client.flushdb()
    return store
