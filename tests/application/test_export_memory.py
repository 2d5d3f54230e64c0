"""A CSV export streams: `crm export customers` writes 100,000 customers in a process whose peak
resident memory stays under 150 MB, far below what holding the rows would take (they are read
through a cursor and written a chunk at a time)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

from tests.scenarios import seed_customers

CUSTOMERS = 100_000
PEAK_RSS_LIMIT_MB = 150


# Runs a command and prints its peak RSS. A child forked (or vforked) from this test's process
# would count this process's memory in its own peak (the kernel keeps the high-water mark across
# exec); forked from this small launcher, it counts a few megabytes at most.
MEASURED = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_exporting_100000_customers_streams_in_bounded_memory(settings, application, container, clock, tmp_path):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    seed_customers(container, restaurant_id, CUSTOMERS, clock.now)
    output = tmp_path / "customers.csv"
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "LOG_LEVEL": "WARNING",
    }

    export = ["export", "customers", "--restaurant", str(restaurant_id), "-o", str(output)]
    command = [sys.executable, "-m", "crm", *export]

    result = subprocess.run(
        [sys.executable, "-c", MEASURED, *command], env=env, capture_output=True, text=True, timeout=120
    )
    peak = int(result.stdout.split()[-1]) / 1024  # kilobytes on Linux
    stderr = result.stderr

    assert result.returncode == 0, stderr
    assert f"exported {CUSTOMERS} customers" in stderr
    with open(output, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == CUSTOMERS
    first = rows[0]
    assert (first["email"], first["first_name"], first["external_id"]) == ("guest0@example.com", "'=Guest0", "POS-0")
    assert rows[-1]["email"] == f"guest{CUSTOMERS - 1}@example.com"
    print(f"peak RSS of crm export customers ({CUSTOMERS} rows): {peak:.1f} MB")
    assert peak < PEAK_RSS_LIMIT_MB, f"peak RSS {peak:.1f} MB"
