"""`crm import` of an import another process is running (holding its lock) follows that run's
progress instead of running it a second time."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from crm.locks import exclusive, import_lock
from crm.write_model.imports import import_id
from crm.write_model.vocabulary import ImportKind
from tests.integration.workers import wait_until

CONTENT = b"email,first_name\n" + b"".join(f"guest{n}@example.com,Guest {n}\n".encode() for n in range(3000))


def test_crm_import_follows_an_import_that_another_process_runs(application, container, settings, tmp_path):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    path = tmp_path / "guests.csv"
    path.write_bytes(CONTENT)
    the_import = import_id(restaurant_id, ImportKind.CUSTOMERS, hashlib.sha256(CONTENT).hexdigest())
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key}
    command = [sys.executable, "-m", "crm", "import", "customers", str(path), "--restaurant", str(restaurant_id)]

    with exclusive(container.engine, import_lock(the_import)) as held:  # as a worker running it would
        assert held
        cli = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_until(lambda: container.import_queries.import_(the_import, None) is not None, 30, message="started")
        # Check the command waits while the other process has not moved the import on.
        assert cli.poll() is None
        container.application.continue_import(the_import)  # the other process runs it
    out, err = cli.communicate(timeout=60)

    assert cli.returncode == 0, err.decode()
    assert b"is running in another process; following it" in err
    assert b"completed; 3000 of 3000 rows: 3000 imported" in out
    # Check nothing was imported twice: one batch event per 1,000 rows, one Completed.
    events = container.application.recorder.select_events(the_import)
    assert [e.topic.rsplit(".", 1)[-1] for e in events] == ["Started"] + ["BatchImported"] * 3 + ["Completed"]
