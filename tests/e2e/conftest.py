"""Fixtures of the HTTP tier (helpers live in e2e_support.py)."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid

import pytest

pytest.register_assert_rewrite("tests.e2e.e2e_support")

from tests.e2e.e2e_support import Make  # noqa: E402
from tests.serving import ServerDidNotStart, crm_serve, serve_on_free_port, terminate  # noqa: E402


@pytest.fixture
def make(admin) -> Make:
    return Make(admin)


@pytest.fixture
def key_of(key_for):
    """An API client scoped to a restaurant given as the API returned it (a dict)."""

    def make_key(restaurant: dict, name: str | None = None):
        return key_for(uuid.UUID(restaurant["id"]), name)

    return make_key


EMBEDDED_THREADS = ("campaign-follower", "embedded-celery-worker")


@pytest.fixture
def start_worker(container):
    """Start the embedded campaign worker (follower and Celery threads) when the test says so.

    It is stopped, and its threads joined, after the test: none outlives the test's database.
    """
    from crm.workers.embedded import EmbeddedWorker

    started: list = []

    def start():
        assert not started, "the embedded worker is already running"
        before = set(threading.enumerate())
        worker = EmbeddedWorker(container).start()
        threads = [t for t in threading.enumerate() if t not in before and t.name in EMBEDDED_THREADS]
        started.append((worker, threads))
        return worker

    yield start
    for worker, threads in started:
        worker.stop()
        for thread in threads:
            thread.join(timeout=10)
            assert not thread.is_alive(), f"{thread.name} did not stop"


@pytest.fixture
def embedded(start_worker):
    """The embedded campaign worker, running from the start of the test."""
    return start_worker()


# -- the operator dashboard ---------------------------------------------------------------

pytest.register_assert_rewrite("tests.e2e.dashboard_support")

from tests.e2e.dashboard_support import OPERATOR_EMAIL, OPERATOR_PASSWORD, DashboardClient  # noqa: E402


@pytest.fixture
def operator_accounts(container, monkeypatch):
    """Operators whose passwords are hashed with a cheap scrypt (tests/application checks the real one)."""
    from crm.adapters import operators

    monkeypatch.setattr(operators, "PASSWORD_HASH", "scrypt:1024:8:1")
    return operators.Operators(container.application.factory.datastore, container.clock)


@pytest.fixture
def operator_account(operator_accounts):
    """An operator who can log in with OPERATOR_EMAIL and OPERATOR_PASSWORD."""
    return operator_accounts.create(OPERATOR_EMAIL, OPERATOR_PASSWORD)


@pytest.fixture
def visitor(client) -> DashboardClient:
    """A browser without a login session."""
    return DashboardClient(client)


@pytest.fixture
def dash(client, operator_account) -> DashboardClient:
    """A browser logged in to the dashboard as the operator (its CSRF token at hand)."""
    browser = DashboardClient(client)
    response = browser.log_in()
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


# -- a real `crm serve` ----------------------------------------------------------------


@pytest.fixture
def served(settings, container, tmp_path):
    """`crm serve` on a free port, its output in a file (a pipe nobody reads fills up, and a
    server blocked writing its log does not stop when told to)."""
    key = container.api_keys.issue("served-admin", None)
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key}
    log_path = tmp_path / "serve.log"

    def stop(process: subprocess.Popen) -> None:
        if not terminate(process):
            pytest.fail(
                "crm serve did not stop within 20 s of SIGTERM:\n" + log_path.read_text(errors="replace")[-3000:]
            )

    try:
        process, port = serve_on_free_port(crm_serve(env, log_path), stop, lambda: log_path.read_text(errors="replace"))
    except ServerDidNotStart as error:
        pytest.fail(f"crm serve did not start: {error}")
    try:
        yield port, key
    finally:
        stop(process)
