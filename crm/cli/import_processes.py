"""`crm import` in several processes: each matches, builds and encodes its share of the file's
batches while the others save theirs, and the saves go in the file's order (see
`ImportShare`). Two cores then both work: one process's Python is most of an import's cost.

The processes are started fresh (spawn), each with its own connections, and die with the
`crm import` that started them (kill -9 too): their open batch is rolled back, and the same
command resumes after the last batch saved. If one of them fails, the others are stopped and
this process finishes the import alone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from uuid import UUID

from crm.write_model.vocabulary import IMPORT_BATCH_ROWS

# Below this many rows left, one process: starting another (about a second of imports) and
# taking turns would cost more than it saves.
MIN_ROWS_PER_PROCESS = 5 * IMPORT_BATCH_ROWS
MAX_PROCESSES = 4
_PR_SET_PDEATHSIG = 1


def default_processes(dialect: str) -> int:
    """One per CPU (at most 4) on PostgreSQL; SQLite has one writer, so one process."""
    return 1 if dialect == "sqlite" else max(1, min(os.cpu_count() or 1, MAX_PROCESSES))


def processes_for(requested: int, rows_left: int) -> int:
    """How many processes `rows_left` rows are worth (at least one)."""
    return max(1, min(requested, rows_left // MIN_ROWS_PER_PROCESS))


def run_in_processes(app, import_id: UUID, count: int, on_progress: Callable[[dict], None], poll: float) -> None:
    """Import in `count` processes; back here when the import has ended or none of them runs."""
    after = app.import_progress(import_id)["through"]
    context = multiprocessing.get_context("spawn")
    shares = [
        context.Process(target=run_share, args=(str(import_id), index, count, after, os.getpid()), daemon=True)
        for index in range(count)
    ]
    for share in shares:
        share.start()
    try:
        while any(share.is_alive() for share in shares):
            time.sleep(poll)
            on_progress(app.import_progress(import_id))
            if any(share.exitcode not in (None, 0) for share in shares):
                break  # the others would wait for its batch for ever
    finally:
        for share in shares:
            if share.is_alive():
                share.kill()
            share.join()
    on_progress(app.import_progress(import_id))


def run_share(import_id: str, index: int, count: int, after: int, parent: int) -> None:
    """A started process's whole life: its share of the import, then exit."""
    _die_with(parent)
    from crm.bootstrap import build
    from crm.config import Settings
    from crm.cyclic_gc import cycle_collection_paused
    from crm.write_model.importing import ImportShare

    container = build(Settings.from_env())
    try:
        share = ImportShare(index, count, after, alive=lambda: os.getppid() == parent)
        with cycle_collection_paused():
            container.application.continue_import(UUID(import_id), share=share)
    finally:
        container.close()


def _die_with(parent: int) -> None:
    """Be killed when `parent` dies (Linux; elsewhere the share stops at its next wait). Ctrl-C
    reaches the whole process group: the parent stops the shares, without their tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # died before that took effect
        os._exit(1)
