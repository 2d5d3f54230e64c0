"""A process's first requests, arriving at once on several threads, all get their metrics."""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter: the instruments are created on first use, once per process.
FIRST_USE_RACE = """
import threading
from crm import metrics

start = threading.Barrier(16)
failures = []

def first_request():
    start.wait()
    try:
        metrics.observe_command("register_customer", 0.01, 0, True)
        metrics.observe_request("POST", "/api/customers/", 201, 0.01)
    except Exception as error:
        failures.append(repr(error))

threads = [threading.Thread(target=first_request) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(failures), failures[:1])
"""


def test_instruments_are_made_once_when_the_first_requests_come_together():
    for _ in range(5):
        result = subprocess.run([sys.executable, "-c", FIRST_USE_RACE], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("0 "), result.stdout
