"""One holder at a time across processes: PostgreSQL advisory locks, or on SQLite a thread lock
and a byte of a lock file beside the database."""

from __future__ import annotations

import hashlib
import os
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
    when the holder's process dies, even by kill -9. On SQLite a thread lock holds it within the
    process and a byte of a lock file beside the database across processes (`crm import` beside
    `crm serve`); the kernel releases that one when the process dies too.
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
    local = lock.acquire(blocking=False)
    try:
        with _file_range(engine, name, local) as held:
            yield held
    finally:
        if local:
            lock.release()


@contextmanager
def _file_range(engine: Engine, name: str, wanted: bool) -> Iterator[bool]:
    """The byte `lock_key(name)` of the database's lock file, locked for the block if `wanted`
    and no other process holds it. Without a file (in memory) or `fcntl` (Windows): `wanted`."""
    descriptor = _lock_file(engine) if wanted else None
    if descriptor is None:
        yield wanted
        return
    import fcntl

    offset = lock_key(name) & _OFFSETS
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, offset)


_OFFSETS = 2**62 - 1  # a byte's offset in the lock file: the file stays empty, offsets are free
_lock_files: dict[str, int] = {}


def _lock_file(engine: Engine) -> int | None:
    """The descriptor of `<database>.locks`, opened once and never closed: closing any
    descriptor of a file drops every lock the process holds on it."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    path = f"{database}.locks"
    with _guard:
        if path not in _lock_files:
            _lock_files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return _lock_files[path]
