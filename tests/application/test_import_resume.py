"""An import killed (kill -9) in the middle of its file, then run again, ends as one clean run:
the same customers, the same report, the same events; nothing twice, nothing skipped."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import func, select

from crm.read_model.tables import customers
from tests.import_runs import crm_import, final_state, progress

ROWS = 12_000


@pytest.fixture
def customers_file(tmp_path):
    lines = ["email,first_name,last_name,email_consent,external_id"]
    for n in range(ROWS):
        if n % 997 == 5:
            lines.append(f"broken-{n},No,Address,,")
        else:
            consent = "unsubscribed" if n % 10 == 0 else ""
            lines.append(f"guest{n}@example.com,Guest,{n},{consent},POS-{n}")
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_import_killed_mid_file_and_run_again_ends_as_a_clean_run(application, container, settings, customers_file):
    killed_there = application.open_restaurant("Killed mid-file", actor="admin")
    clean_there = application.open_restaurant("Clean run", actor="admin")

    # Check the import is stopped by kill -9 once some batches are saved and more remain.
    first = crm_import(settings, "customers", customers_file, killed_there)
    deadline = time.monotonic() + 120
    while progress(container.engine, killed_there) < 2_000 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    interrupted_at = progress(container.engine, killed_there)
    assert first.returncode == -signal.SIGKILL
    assert 2_000 <= interrupted_at < ROWS

    # Check the same command goes on from there and completes.
    second = crm_import(settings, "customers", customers_file, killed_there)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err.decode()
    assert b"completed; 12000 of 12000 rows" in out

    clean = crm_import(settings, "customers", customers_file, clean_there)
    out, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err.decode()

    resumed, once = final_state(container, killed_there), final_state(container, clean_there)
    assert resumed == once
    assert len(once["customers"]) == ROWS - 13  # 13 rows without an address
    assert once["imports"] == [("customers", "completed", ROWS, ROWS - 13, 0, 0, 13)]
    with container.engine.connect() as connection:
        total = connection.execute(select(func.count()).where(customers.c.restaurant_id == killed_there)).scalar()
    assert total == ROWS - 13
