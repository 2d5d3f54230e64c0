"""`crm projections rebuild` on a server that refuses it the connections it needs: it stops with
the server's message and how many it needs, the live tables untouched; given that many, it runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from crm import bootstrap
from crm.config import Settings
from crm.read_model.tables import visits
from tests.integration.databases import database_of_its_own


@pytest.fixture
def limited(database_url):
    """Settings for a database owned by a role of its own, and how to limit its connections."""
    with database_of_its_own(database_url, "crm_limited", own_role=True) as (settings, admin):
        role = make_url(settings.database_url).username

        def allow(connections: int) -> None:
            with admin.connect() as conn:
                conn.execute(text(f'ALTER ROLE "{role}" CONNECTION LIMIT {connections}'))

        yield settings, allow


def rebuild(settings: Settings) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "crm", "projections", "rebuild", "--workers", "2"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def visit_rows(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(visits)).scalar_one()
    finally:
        engine.dispose()


def test_a_rebuild_refused_connections_stops_with_the_count_it_needs_and_runs_once_given_them(limited):
    settings, allow = limited
    bootstrap.migrate(settings)
    container = bootstrap.build(settings)
    app = container.application
    restaurant = app.open_restaurant("Pizza Palace", actor="admin").id
    for n in range(20):
        customer = app.register_customer(restaurant, f"guest{n}@example.com", "G", actor="desk", scope=None).id
        app.record_visit(customer, 1000 + n, actor="till", scope=None)
    container.close()

    allow(3)  # enough for the rebuild itself, not for its two workers
    refused = rebuild(settings)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "too many connections" in refused.stderr
    assert "Nothing live has changed. This rebuild needs 7 connections" in refused.stderr
    assert visit_rows(settings) == 20

    allow(7)
    done = rebuild(settings)
    assert done.returncode == 0, done.stderr
    assert visit_rows(settings) == 20
