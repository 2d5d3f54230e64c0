"""Knowing how far `crm projector` (another process) has got, and waiting for it to pass a position.

A web process learns the projector's progress from the tracking table: on PostgreSQL one
listener thread per process follows the notifications each batch sends, and waiting callers
sleep on a condition until their position is passed; on SQLite (or while the listener
reconnects) they poll the table. The wait is bounded by the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from sqlalchemy.engine import Engine

from crm.adapters.availability import database_unavailable
from crm.projectors.engine import tracking
from crm.projectors.engine.listener import PROJECTED_CHANNEL, Listener, parse_projected

log = logging.getLogger(__name__)
_SQLITE_POLL = 0.02
_RECHECK = 0.5  # even with a live listener, read the table this often while waiting


class ProjectionWatcher:
    """Knows how far each projection has got, and waits for it to pass a position."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._positions: dict[str, int] = {}
        self._changed = threading.Condition()
        self._listening = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = threading.Event()

    def wait_for(self, position: int, names: Iterable[str], timeout: float) -> bool:
        """True once every named projection is at or past `position`; False after `timeout` seconds."""
        names = list(names)
        deadline = time.monotonic() + timeout
        if self.engine.dialect.name == "postgresql":
            self._ensure_listener()
        if not self._listening:  # a live listener already knows every position
            self._refresh()
        with self._changed:
            while True:
                if all(self._positions.get(name, 0) >= position for name in names):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                slice_ = _RECHECK if self._listening else _SQLITE_POLL
                if not self._changed.wait(min(remaining, slice_)):
                    self._changed.release()
                    try:
                        self._refresh()  # a notification may have been lost: read the table
                    finally:
                        self._changed.acquire()

    def position(self, name: str) -> int:
        """How far projection `name` is known to have got (0: not known yet)."""
        with self._changed:
            return self._positions.get(name, 0)

    def _refresh(self) -> None:
        try:
            with self.engine.connect() as conn:
                rows = tracking.positions(conn)
        except Exception as error:
            if not database_unavailable(error):
                log.warning("could not read projection positions", exc_info=True)
            # Away: the waiting caller times out and answers stale (or its own read gets a 503).
            return
        self._merge(rows)

    def _merge(self, positions: dict[str, int]) -> None:
        with self._changed:
            for name, position in positions.items():
                self._positions[name] = max(position, self._positions.get(name, 0))
            self._changed.notify_all()

    def close(self) -> None:
        """Stop the listener thread (within a few seconds)."""
        self._closed.set()

    # -- the listener thread (PostgreSQL) ----------------------------------------------------

    def _ensure_listener(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, name="projection-watcher", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                with Listener(self.engine, PROJECTED_CHANNEL, "crm-watcher") as listener:
                    self._refresh()  # after LISTEN: nothing committed from here on is missed
                    self._listening = True
                    failures = 0
                    while not self._closed.is_set():
                        update: dict[str, int] = {}
                        for payload in listener.wait(1.0):
                            name, position = parse_projected(payload)
                            update[name] = max(position, update.get(name, 0))
                        if update:
                            self._merge(update)
            except Exception as error:
                failures += 1
                if self._closed.is_set():
                    pass
                elif not database_unavailable(error):
                    log.warning("projection watcher failed; reconnecting", exc_info=True)
                elif failures == 1:  # a restarting database: once per outage, without a traceback
                    log.warning("projection watcher lost the database (%s); reconnecting", type(error).__name__)
            finally:
                self._listening = False
            self._closed.wait(0.5)
