"""Shared fixtures: one fresh database per test process, emptied before every test.

`DATABASE_URL` chooses the database: a PostgreSQL URL makes the run create (and drop) its
own database next to the one named; anything else runs on a temporary SQLite file.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm import bootstrap
from crm.config import Settings
from crm.http import create_app
from tests.commands import Caller

TABLES = (
    "crm_events",
    "crm_snapshots",
    "restaurants",
    "customers",
    "visits",
    "consent_changes",
    "projection_tracking",
    "projection_dead_letters",
    "customer_keys",
    "stream_owners",
    "api_keys",
    "campaigns",
    "campaign_batches",
    "outreach_events",
    "segments",
    "simulated_deliveries",
    "operators",
    "login_failures",
    "login_lockouts",
    "imports",
    "import_rejections",
    "import_uploads",
)


def _is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if not _is_postgres(url):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'crm-test.sqlite3'}"
        return
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def settings(database_url) -> Settings:
    settings = Settings(database_url=database_url, secret_key="test-secret")
    bootstrap.migrate(settings)
    return settings


@pytest.fixture
def on_postgres(settings):
    """Use in tests that need PostgreSQL; CI sets CRM_REQUIRE_POSTGRES=1 so they cannot skip."""
    if not _is_postgres(settings.database_url):
        if os.environ.get("CRM_REQUIRE_POSTGRES"):
            pytest.fail("CRM_REQUIRE_POSTGRES is set but DATABASE_URL is not a PostgreSQL URL")
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgresql+psycopg2://...")


class FakeClock:
    """An injectable clock: starts at the real time and moves only when told to."""

    def __init__(self):
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def empty_database(engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def container(settings, clock):
    container = bootstrap.build(settings, clock=clock)
    empty_database(container.engine)
    yield container
    container.close()  # its threads too (the key erasure follower, the projection watcher)


@pytest.fixture
def application(container) -> Caller:
    """The application with read-your-writes after every command, as a view uses it."""
    return Caller(container)


@pytest.fixture
def app(container):
    app = create_app(container=container)
    app.config["TESTING"] = True
    return app


class ApiClient:
    """The Flask test client with an API key on every request."""

    def __init__(self, client, key: str | None):
        self.client = client
        self.key = key

    def _headers(self, headers: dict | None) -> dict:
        base = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**base, **(headers or {})}

    def request(self, method: str, path: str, **kwargs):
        kwargs["headers"] = self._headers(kwargs.get("headers"))
        return self.client.open(path, method=method, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(client, container) -> ApiClient:
    return ApiClient(client, container.api_keys.issue("admin-test", None))


@pytest.fixture
def key_for(client, container):
    """Make an API client scoped to one restaurant."""

    def make(restaurant_id, name: str | None = None) -> ApiClient:
        return ApiClient(client, container.api_keys.issue(name or f"key-{uuid.uuid4().hex[:8]}", restaurant_id))

    return make


@pytest.fixture
def restaurant(admin) -> dict:
    response = admin.post("/api/restaurants/", json={"name": "Pizza Palace", "timezone": "America/New_York"})
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def customer(admin, restaurant) -> dict:
    response = admin.post(
        "/api/customers/",
        json={
            "restaurant": restaurant["id"],
            "email": "john.doe@example.com",
            "first_name": "John",
            "last_name": "Doe",
        },
    )
    assert response.status_code == 201, response.json
    return response.json
