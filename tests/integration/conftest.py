import pytest

from crm import bootstrap
from tests.integration.databases import database_of_its_own
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.workers import RedisServer


@pytest.fixture(autouse=True)
def _integration_needs_postgres(on_postgres):
    """The integration tier runs against PostgreSQL (CI fails rather than skips without it)."""


@pytest.fixture
def private_pg():
    """A PostgreSQL server of the test's own, to stop and start at will."""
    server = PrivatePostgres().init()
    yield server
    server.destroy()


@pytest.fixture
def broker(tmp_path):
    """A redis-server of the test's own, as the workers' broker."""
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def fresh(database_url):
    """A container on a database of its own, migrated and never analyzed."""
    with database_of_its_own(database_url, "crm_fresh") as (settings, _):
        bootstrap.migrate(settings)
        container = bootstrap.build(settings)
        yield container
        container.close()
