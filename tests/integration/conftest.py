import pytest

from tests.integration.private_postgres import PrivatePostgres


@pytest.fixture(autouse=True)
def _integration_needs_postgres(on_postgres):
    """The integration tier runs against PostgreSQL (CI fails rather than skips without it)."""


@pytest.fixture
def private_pg():
    """A PostgreSQL server of the test's own, to stop and start at will."""
    server = PrivatePostgres().init()
    yield server
    server.destroy()
