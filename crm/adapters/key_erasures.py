"""Forgetting destroyed data keys in every process (PostgreSQL).

The transaction that erases a customer notifies `KEYS_ERASED_CHANNEL` with their id; each
process that remembers keys follows the channel on a thread of its own and forgets the key at
once. Whenever the thread (re)connects it first forgets the remembered keys that are no longer
stored: a notification sent while it was not listening is lost.
"""

from __future__ import annotations

import logging
import threading
from uuid import UUID

from sqlalchemy.engine import Engine

from crm.adapters.customer_keys import KEYS_ERASED_CHANNEL, KeyStore
from crm.adapters.notifications import Listener

log = logging.getLogger(__name__)


class KeyErasureFollower:
    """Makes `keys` forget the keys destroyed by any process; starts with the first key remembered."""

    def __init__(self, keys: KeyStore, engine: Engine):
        self.keys = keys
        self.engine = engine
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = threading.Event()
        self.listening = threading.Event()  # set while a LISTEN is in place (tests wait on it)
        keys.on_remember = self.ensure_started

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive() or self._closed.is_set():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._follow, name="key-erasures", daemon=True)
                self._thread.start()

    def close(self) -> None:
        self._closed.set()

    def _follow(self) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                with Listener(self.engine, KEYS_ERASED_CHANNEL, "crm-key-erasures") as listener:
                    self.keys.forget_destroyed()  # anything destroyed before this LISTEN
                    self.listening.set()
                    failures = 0
                    while not self._closed.is_set():
                        erased = listener.wait(1.0)
                        if erased:
                            self.keys.forget(UUID(payload) for payload in erased)
            except Exception as error:
                failures += 1
                if failures == 1 and not self._closed.is_set():  # once per outage, not every retry
                    log.warning("lost the key erasure notifications (%s); reconnecting", type(error).__name__)
            finally:
                self.listening.clear()
            self._closed.wait(min(5.0, 0.5 * failures))
