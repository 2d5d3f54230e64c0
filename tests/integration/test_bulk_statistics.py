"""An import refreshes PostgreSQL's statistics when its load has doubled the log since they
were taken, and not for a load that leaves the log well short of that: on a large log, ANALYZE
costs seconds for nothing (the planner scales a table's known rows by its pages)."""

from __future__ import annotations

import io
import itertools

import pytest
from sqlalchemy import text

from crm import bootstrap
from crm.adapters import event_store
from crm.write_model.vocabulary import ImportKind

EVERY = 1_000  # events a process loads between two looks at the statistics, instead of 25,000


@pytest.fixture
def importer(fresh, monkeypatch):
    """`importer(container)(rows)`: that process imports `rows` new customers (two events each:
    the registration and the email's claim) into one restaurant."""
    monkeypatch.setattr(event_store, "ANALYZE_AFTER_ROWS", EVERY)
    restaurant_id = fresh.application.open_restaurant("Bulk", actor="test").id
    with fresh.engine.begin() as conn:  # only the imports analyze, at the moments they choose
        conn.execute(text("ALTER TABLE crm_events SET (autovacuum_enabled = false)"))
    numbers = itertools.count()

    def of(container):
        def run(rows: int) -> None:
            lines = "".join(f"c{next(numbers)}@example.com\n" for _ in range(rows)).encode()
            app = container.application
            file = io.BytesIO(b"email\n" + lines)
            started = app.start_import(restaurant_id, ImportKind.CUSTOMERS, "c.csv", file, actor="test", scope=None)
            app.continue_import(started.id)

        return run

    return of


def statistics(container) -> tuple:
    with container.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT s.last_analyze, c.reltuples FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = 'crm_events'"
            )
        ).one()


def test_a_load_that_doubles_the_log_analyzes_it_and_a_smaller_one_does_not(fresh, importer):
    assert statistics(fresh)[0] is None
    # Check a log never analyzed is analyzed once a process's load reaches its first look
    importer(fresh)(1_000)  # 2,000 events, looked at after 1,000 and 2,000
    first, counted = statistics(fresh)
    assert first is not None and counted >= 2_000

    # Check another process's load, past its first look but short of the log, leaves them
    later = bootstrap.build(fresh.settings)
    try:
        load = importer(later)
        load(600)  # 1,200 events: looked at after 1,000, fewer than the 2,000 counted
        assert statistics(fresh)[0] == first
        # ... and that a load as large as the log counted is analyzed again
        load(1_000)  # 2,000 more: at 3,000 loaded, more than counted
        again, recounted = statistics(fresh)
        assert again > first and recounted >= 5_000
    finally:
        later.close()
