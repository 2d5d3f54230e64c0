"""One holder at a time across processes (PostgreSQL advisory locks) or threads (SQLite)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def import_lock(import_id: object) -> str:
    """The lock whoever runs an import holds (a worker's task, `crm import`)."""
    return f"crm:import:{import_id}"


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True if this caller now holds `name` (until the block ends), False if someone else does.

    On PostgreSQL the lock lives in the session of a dedicated connection, so it is released
    when the holder's process dies, even by kill -9. SQLite runs in one process: a thread lock.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = lock_key(name)
            held = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            try:
                yield bool(held)
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    with _guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()
