"""`exclusive`: one holder at a time, across processes on both databases (an import run by
`crm import` beside `crm serve`), released when its holder dies, even by kill -9."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from crm.locks import exclusive
from tests.integration.workers import wait_until

HOLD = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import create_engine
    from crm.locks import exclusive
    with exclusive(create_engine(sys.argv[1]), sys.argv[2]) as held:
        print("held" if held else "refused", flush=True)
        time.sleep(120)
    """
)


def holder(settings, name: str) -> subprocess.Popen:
    """Another process holding `name` (it says so on its first line, then sleeps)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, settings.database_url, name],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_lock_held_by_another_process_is_refused_until_that_process_dies(settings, container):
    other = holder(settings, "crm:import:one")
    try:
        # Check the name is refused here while the other process holds it; another name is not
        with exclusive(container.engine, "crm:import:one") as held:
            assert held is False
        with exclusive(container.engine, "crm:import:two") as held:
            assert held is True
    finally:
        other.kill()  # kill -9: no unlock of its own
        other.wait()

    # Check the lock went with the process
    def free() -> bool:
        with exclusive(container.engine, "crm:import:one") as held:
            return held

    wait_until(free, 10, message="the dead holder's lock released")


def test_a_lock_is_held_once_within_a_process_and_free_again_after_the_block(container):
    with exclusive(container.engine, "crm:batch:1") as first:
        with exclusive(container.engine, "crm:batch:1") as second:
            assert (first, second) == (True, False)
    with exclusive(container.engine, "crm:batch:1") as again:
        assert again is True
