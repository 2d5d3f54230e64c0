"""Read-your-writes in background mode: a command waits until `crm projector` has passed it.

The projector runs in another process, so a web process learns its progress from the
tracking table: on PostgreSQL one listener thread per process follows the `crm_projected`
notifications each batch sends, and waiting requests sleep on a condition until their
position is passed; on SQLite (or while the listener reconnects) they poll the table. The
wait is bounded: past it the command still succeeds, and the response says the read model
is stale (`X-Read-Model-Stale: true`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm.projectors.base import Projector
from crm.read_model.tables import projection_tracking

log = logging.getLogger(__name__)
_SQLITE_POLL = 0.02
_RECHECK = 0.5  # even with a live listener, read the table this often while waiting


class ProjectionWatcher:
    """Knows how far each projection has got, and waits for it to pass a position."""

    def __init__(self, engine: Engine, projectors: Iterable[Projector], timeout: float):
        self.engine = engine
        self.projectors = {p.name: p for p in projectors}
        self.timeout = timeout
        self._positions: dict[str, int] = {}
        self._changed = threading.Condition()
        self._listening = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._local = threading.local()
        self._closed = threading.Event()

    # -- the saved-observer contract shared with the inline runner ------------------------

    def on_saved(self, position: int, topics: set[str]) -> None:
        """Wait (bounded) until every projection that handles one of `topics` has passed `position`."""
        names = [name for name, projector in self.projectors.items() if projector.topics & topics]
        if names and not self.wait_for(position, names, self.timeout):
            self._local.lagging = True

    def take_lag_flag(self) -> bool:
        """True once if a wait in this thread timed out since the last call."""
        lagging = getattr(self._local, "lagging", False)
        self._local.lagging = False
        return lagging

    # -- waiting --------------------------------------------------------------------------

    def wait_for(self, position: int, names: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """True once every named projection (default: all) is at or past `position`; False on timeout."""
        names = list(names or self.projectors)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
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

    def _refresh(self) -> None:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all()
        except Exception:
            log.warning("could not read projection positions", exc_info=True)
            return
        self._merge(dict(rows))

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
        from crm.projectors.listener import PROJECTED_CHANNEL, Listener

        while not self._closed.is_set():
            try:
                with Listener(self.engine, PROJECTED_CHANNEL, "crm-watcher") as listener:
                    self._refresh()  # after LISTEN: nothing committed from here on is missed
                    self._listening = True
                    while not self._closed.is_set():
                        update: dict[str, int] = {}
                        for payload in listener.wait(1.0):
                            name, _, position = payload.rpartition(":")
                            update[name] = max(int(position), update.get(name, 0))
                        if update:
                            self._merge(update)
            except Exception:
                if not self._closed.is_set():
                    log.warning("projection watcher lost its connection; reconnecting", exc_info=True)
            finally:
                self._listening = False
            self._closed.wait(0.5)
