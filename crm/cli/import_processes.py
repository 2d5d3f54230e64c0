"""`crm import` in several processes: each matches, builds and encodes its share of the file's
batches while the others save theirs, and the saves go in the file's order (see
`ImportShare`). Two cores then both work: one process's Python is most of an import's cost.

This process reads and checks the file once and hands each process its batches through a pipe
(and, of the others' batches, where each ends). The processes are forked from it, so they start
with its modules loaded (spawned, where forking is not safe: each then imports them again); each
opens its own connections, and dies with the `crm import` that started it (kill -9 too): its
open batch is rolled back, and the same command resumes after the last batch saved. If one of
them fails, the others are stopped and this process finishes the import alone.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
    context = multiprocessing.get_context(_start_method())
    shares, senders = [], []
    for index in range(count):
        # One pipe at a time, its reading end closed here before the next fork: a share's
        # death then breaks its pipe (no other process holds that end open).
        receiver, sender = context.Pipe(duplex=False)
        share = context.Process(
            target=run_share, args=(str(import_id), index, count, after, os.getpid(), receiver), daemon=True
        )
        share.start()
        receiver.close()
        shares.append(share)
        senders.append(sender)
    feeding = _Feeder(app.import_batches(import_id, after), senders)
    feeding.start()
    try:
        while any(share.is_alive() for share in shares):
            time.sleep(poll)
            on_progress(app.import_progress(import_id))
            if any(share.exitcode not in (None, 0) for share in shares) or feeding.failed:
                break  # the others would wait for its batch for ever
    finally:
        for share in shares:
            if share.is_alive():
                share.kill()
            share.join()
        feeding.join()  # the pipes broke with the processes
    on_progress(app.import_progress(import_id))


class _Feeder(threading.Thread):
    """Sends each batch to the process it is for, and its last row to the others; then None.
    A process gone is left out: one that ended the import (its restaurant deleted) exits, and
    the others go through the rest as done. If the file cannot be read, it stops (`failed`):
    the caller stops the processes and goes on alone, and meets the same error itself."""

    def __init__(self, batches: Iterator[list], senders: list):
        super().__init__(name="import-feeder", daemon=True)
        self.batches, self.senders = batches, senders
        self.failed = False

    def run(self) -> None:
        count, live = len(self.senders), dict(enumerate(self.senders))
        try:
            for number, rows in enumerate(self.batches):
                for index in list(live):
                    _send(live, index, rows if number % count == index else rows[-1:])
                if not live:
                    return
            for index in list(live):
                _send(live, index, None)
        except Exception:
            self.failed = True
            raise  # its traceback on stderr
        finally:
            for sender in self.senders:
                sender.close()


def _send(live: dict, index: int, message) -> None:
    try:
        live[index].send(message)
    except (BrokenPipeError, ConnectionResetError):  # the process is gone: the caller sees how it ended
        del live[index]


def run_share(import_id: str, index: int, count: int, after: int, parent: int, receiver) -> None:
    """A started process's whole life: its share of the import, then exit."""
    _die_with(parent)
    from crm.bootstrap import build
    from crm.config import Settings
    from crm.cyclic_gc import cycle_collection_paused
    from crm.write_model.importing import ImportShare

    container = build(Settings.from_env())
    try:
        share = ImportShare(index, count, after, alive=lambda: os.getppid() == parent, batches=_received(receiver))
        with cycle_collection_paused():
            container.application.continue_import(UUID(import_id), share=share)
    finally:
        container.close()


def _received(receiver) -> Iterator[list]:
    """The batches sent to this process, up to the None after the last."""
    while (rows := receiver.recv()) is not None:
        yield rows


def _start_method() -> str:
    """Fork where it is safe: on Linux, from a process with no other thread (a thread could hold
    a lock the child would wait on for ever). Forked, a share skips the second of imports that
    a spawned one spends loading the modules."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _die_with(parent: int) -> None:
    """Be killed when `parent` dies (Linux; elsewhere the share stops at its next wait). Ctrl-C
    reaches the whole process group: the parent stops the shares, without their tracebacks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # died before that took effect
        os._exit(1)
