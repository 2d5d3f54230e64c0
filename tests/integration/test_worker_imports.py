"""Imports run by real `crm worker` processes on PostgreSQL and Redis: started by a command, taken
up by the follower, and finished by another worker after the first is killed mid-file."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from crm.read_model.tables import customers, imports
from crm.write_model.vocabulary import ImportKind
from tests.integration.workers import WorkerProcess, wait_until

ROWS = 20_000


def customers_file(rows: int) -> io.BytesIO:
    lines = ["email,first_name,external_id"]
    lines += [f"guest{n}@example.com,Guest {n},POS-{n}" if n % 1000 != 7 else f"bad-{n},X," for n in range(rows)]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


def state(container, import_id) -> dict:
    with container.engine.connect() as connection:
        row = connection.execute(select(imports).where(imports.c.id == import_id)).mappings().first()
    return dict(row) if row is not None else {}


def test_a_worker_imports_a_started_file_and_another_finishes_it_after_a_kill(
    application, container, settings, broker, tmp_path
):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    import_id = application.start_import(
        restaurant_id, ImportKind.CUSTOMERS, "guests.csv", customers_file(ROWS), actor="key:ops", scope=None
    )

    # Check a worker takes the import up from the log, and is killed (kill -9) in the middle.
    first = WorkerProcess(settings, broker.url, tmp_path / "first.log").start()
    try:
        wait_until(lambda: (state(container, import_id).get("rows_done") or 0) >= 3_000, 60, message=first.log())
        first.kill_group()
    finally:
        first.stop()
    interrupted = state(container, import_id)
    assert interrupted["status"] == "running" and interrupted["rows_done"] < ROWS

    # Check a new worker's follower sweeps the unfinished import and completes it.
    second = WorkerProcess(settings, broker.url, tmp_path / "second.log").start()
    try:
        wait_until(lambda: state(container, import_id).get("status") == "completed", 120, message=second.log())
        # The file is let go once done (just after the completion is recorded: waited for
        # before the worker is stopped).
        wait_until(lambda: not _kept(container, import_id), 10, message=second.log())
    finally:
        second.stop()
    done = state(container, import_id)
    assert (done["rows_done"], done["imported"], done["rejected"]) == (ROWS, ROWS - 20, 20)
    with container.engine.connect() as connection:
        count = connection.execute(
            select(func.count(), func.count(func.distinct(customers.c.email))).where(
                customers.c.restaurant_id == restaurant_id
            )
        ).one()
    assert tuple(count) == (ROWS - 20, ROWS - 20)  # each row once, none twice


def _kept(container, import_id) -> bool:
    kept = container.application.uploads.open(import_id)
    if kept is not None:
        kept.close()
    return kept is not None
