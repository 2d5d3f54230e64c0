import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import bootstrap
from crm.config import Settings
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.workers import RedisServer, free_port


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
    server = RedisServer(free_port(), tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def fresh(database_url):
    """A container on a database of its own, migrated and never analyzed."""
    name = f"crm_fresh_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    settings = Settings(
        database_url=make_url(database_url).set(database=name).render_as_string(hide_password=False),
        secret_key="test-secret",
    )
    try:
        bootstrap.migrate(settings)
        container = bootstrap.build(settings)
        yield container
        container.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
