"""Which projections this process may apply: one holder per projection across processes.

A lease is a session-level PostgreSQL advisory lock held by a dedicated connection, so it is
released the moment its holder dies (kill -9 included); on SQLite a file lock beside the
database plays the advisory lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

from crm.locks import lock_key

log = logging.getLogger(__name__)


def lease_name(projection: str) -> str:
    return f"crm:projection:{projection}"


class Leases:
    """Which projections this process may apply: PostgreSQL advisory locks or SQLite file locks."""

    def __init__(self, engine: Engine, names: Iterable[str]):
        self.engine = engine
        self.names = list(names)
        self.held: set[str] = set()
        self._connection: Connection | None = None
        self._files: dict[str, int] = {}

    def acquire(self) -> set[str]:
        """Try to take every projection not held yet; return the ones newly taken."""
        taken = set()
        for name in self.names:
            if name not in self.held and self._try(name):
                taken.add(name)
        self.held |= taken
        return taken

    def check(self) -> None:
        """Raise if the connection holding the advisory locks is gone (its locks went with it)."""
        if self._connection is not None:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()

    def release(self) -> None:
        self.held.clear()
        if self._connection is not None:
            # Not back to the pool with the locks still held: end the session itself.
            try:
                self._connection.invalidate()
            except Exception:
                log.debug("closing the lease connection failed", exc_info=True)
            self._connection = None
        for descriptor in self._files.values():
            os.close(descriptor)
        self._files.clear()

    def _try(self, name: str) -> bool:
        if self.engine.dialect.name == "postgresql":
            if self._connection is None:
                self._connection = self.engine.connect()
            held = self._connection.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(lease_name(name))}
            ).scalar()
            self._connection.commit()
            return bool(held)
        return self._try_file(name)

    def _try_file(self, name: str) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows: one projector per SQLite installation, by convention
            return True
        database = make_url(str(self.engine.url)).database or "crm"
        path = Path(f"{database}.projector-{name}.lock")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return False
        self._files[name] = descriptor
        return True
