"""Per-customer data keys: created with a customer's first events and stored in the same
transaction, wrapped with a key-encryption key derived from the server secret (a copy of the
database alone reveals nothing), cached in memory, and destroyed to erase a customer (their
personal data in the log can then never be read again). `personal_data` encrypts with them.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, DateTime, LargeBinary, Table, Uuid, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from crm.adapters.log_reads import as_uuid
from crm.adapters.schema import metadata

customer_keys = Table(
    "customer_keys",
    metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# Text, not an ORM insert: SQLAlchemy cannot cache the compiled form of ON CONFLICT, and this
# runs with every registration. (Both databases know this syntax.)
_INSERT_KEY_UNCHECKED = customer_keys.insert()


def _insert_new_keys(executor, rows: list[dict]) -> set[UUID]:
    """INSERT ... ON CONFLICT DO NOTHING the keys' rows; the ids of those inserted (on PostgreSQL
    through psycopg2's `execute_values`: an import's batch holds a thousand)."""
    bind = executor.get_bind() if hasattr(executor, "get_bind") else executor
    if bind.dialect.name == "postgresql":
        from psycopg2.extras import execute_values

        cursor = executor.connection().connection.cursor()
        try:
            inserted = execute_values(
                cursor,
                "INSERT INTO customer_keys (customer_id, wrapped_key, created_at) VALUES %s "
                "ON CONFLICT (customer_id) DO NOTHING RETURNING customer_id::text",
                [(str(r["customer_id"]), r["wrapped_key"], r["created_at"]) for r in rows],
                template="(%s::uuid, %s, %s)",
                page_size=len(rows),
                fetch=True,
            )
        finally:
            cursor.close()
        return {UUID(i) for (i,) in inserted}
    found: set[UUID] = set()
    for start in range(0, len(rows), 100):
        statement = sqlite_insert(customer_keys).on_conflict_do_nothing().returning(customer_keys.c.customer_id)
        found.update(as_uuid(i) for i in executor.execute(statement.values(rows[start : start + 100])).scalars())
    return found


_MAX_PENDING = 10_000
KEYS_ERASED_CHANNEL = "crm_keys_erased"  # PostgreSQL notifications naming each destroyed key
NONCE_BYTES = 12  # AES-GCM's, for the wrapped keys and the encrypted states


class KeyTaken(Exception):
    """A customer's key was already stored: their pending key is dropped (see `insert_pending`)."""


class KeyStore:
    """Per-customer data keys, created once, cached in memory, wrapped at rest."""

    def __init__(self, datastore, secret: bytes):
        self._datastore = datastore
        self._kek = AESGCM(hashlib.sha256(b"crm-customer-key-wrap:" + secret).digest())
        self._cache: dict[UUID, bytes] = {}
        self._pending: OrderedDict[UUID, tuple[bytes, bytes]] = OrderedDict()  # key, wrapped
        self._lock = threading.Lock()
        self.on_remember: Callable[[], None] | None = None  # called when a key is remembered

    def create(self, customer_id: UUID) -> None:
        """Give `customer_id` a key, to be stored with their first events.

        Nothing is written here: the event store inserts the key in the transaction that
        inserts the events it encrypts (`pending_rows`), so a key exists exactly when they do.
        Until then it is pending; asking again returns the same key.
        """
        with self._lock:
            if customer_id in self._pending or customer_id in self._cache:
                return
            key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(NONCE_BYTES)
            self._pending[customer_id] = (key, nonce + self._kek.encrypt(nonce, key, customer_id.bytes))
            while len(self._pending) > _MAX_PENDING:  # registrations that never saved
                self._pending.popitem(last=False)

    def for_writing(self, customer_id: UUID) -> bytes | None:
        """The key to encrypt `customer_id`'s new events with: a pending one, else the stored one."""
        with self._lock:
            pending = self._pending.get(customer_id)
        return pending[0] if pending is not None else self.get(customer_id)

    def pending_rows(self, customer_ids: Iterable) -> list[dict]:
        """The rows of `customer_keys` to insert with these aggregates' events."""
        now = datetime.now(timezone.utc)
        with self._lock:
            pending = [(as_uuid(i), self._pending.get(as_uuid(i))) for i in set(customer_ids)]
        return [
            {"customer_id": customer_id, "wrapped_key": entry[1], "created_at": now}
            for customer_id, entry in pending
            if entry is not None
        ]

    def insert_pending_unchecked(self, executor, customer_ids: Iterable) -> list[UUID]:
        """Like `insert_pending`, as a plain INSERT (one `DeferredWrites` can hold back) that
        fails if a key is already stored; the caller then takes the path with `insert_pending`."""
        rows = self.pending_rows(customer_ids)
        if rows:
            executor.execute(_INSERT_KEY_UNCHECKED, rows)
        return [row["customer_id"] for row in rows]

    def insert_pending(self, executor, customer_ids: Iterable) -> list[UUID]:
        """Insert the pending keys of these aggregates in the caller's transaction; their ids.

        A stored key is never replaced. If one is already there (the customer exists: a
        replayed registration, or a key an earlier version stored apart), the pending key is
        dropped, the stored one remembered, and `KeyTaken` raised: the events about to be
        inserted were encrypted with the wrong key, so the command must run again.
        """
        rows = self.pending_rows(customer_ids)
        if not rows:
            return []
        inserted = _insert_new_keys(executor, rows)
        taken = [row["customer_id"] for row in rows if row["customer_id"] not in inserted]
        if taken:
            for customer_id in taken:
                with self._lock:
                    self._pending.pop(customer_id, None)
                wrapped = executor.execute(
                    select(customer_keys.c.wrapped_key).where(customer_keys.c.customer_id == customer_id)
                ).scalar_one()
                self._remember(customer_id, bytes(wrapped))
            raise KeyTaken(taken)
        return [row["customer_id"] for row in rows]

    def stored(self, customer_ids: Iterable[UUID]) -> None:
        """These pending keys are committed: they are the customers' keys from now on."""
        with self._lock:
            for customer_id in customer_ids:
                entry = self._pending.pop(customer_id, None)
                if entry is not None:
                    self._cache[customer_id] = entry[0]
        self._remembered()

    def destroy(self, executor, customer_ids: Iterable[UUID]) -> None:
        """Delete these customers' keys in the caller's transaction: their personal data in
        the log can never be read again (crypto-shredding). Call `forget` once it commits."""
        executor.execute(customer_keys.delete().where(customer_keys.c.customer_id.in_(list(customer_ids))))

    def forget(self, customer_ids: Iterable[UUID]) -> None:
        """Drop these customers' keys from memory (destroyed: here, or by another process)."""
        with self._lock:
            for customer_id in customer_ids:
                self._cache.pop(customer_id, None)
                self._pending.pop(customer_id, None)

    def forget_destroyed(self) -> None:
        """Drop the remembered keys no longer stored (when news of destroyed keys may have been missed)."""
        with self._lock:
            remembered = list(self._cache)
        for start in range(0, len(remembered), 1000):
            chunk = remembered[start : start + 1000]
            with self._datastore.transaction(commit=False) as session:
                stored = set(
                    session.execute(
                        select(customer_keys.c.customer_id).where(customer_keys.c.customer_id.in_(chunk))
                    ).scalars()
                )
            self.forget(c for c in chunk if c not in stored)

    def refresh(self, customer_id: UUID) -> bytes | None:
        """Forget the remembered key and read the stored one."""
        with self._lock:
            self._cache.pop(customer_id, None)
        return self.get(customer_id)

    def get(self, customer_id: UUID) -> bytes | None:
        with self._lock:
            key = self._cache.get(customer_id)
        if key is not None:
            return key
        with self._datastore.transaction(commit=False) as session:
            wrapped = session.execute(
                select(customer_keys.c.wrapped_key).where(customer_keys.c.customer_id == customer_id)
            ).scalar()
        if wrapped is None:
            return None
        return self._remember(customer_id, bytes(wrapped))

    def _remember(self, customer_id: UUID, wrapped: bytes) -> bytes:
        key = self._kek.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], customer_id.bytes)
        with self._lock:
            self._cache[customer_id] = key
        self._remembered()
        return key

    def preload(self, customer_ids: set[UUID]) -> None:
        """Cache the keys of many customers with one query (for replaying a stretch of the log)."""
        with self._lock:
            missing = [c for c in customer_ids if c not in self._cache]
        for start in range(0, len(missing), 1000):
            chunk = missing[start : start + 1000]
            with self._datastore.transaction(commit=False) as session:
                rows = session.execute(
                    select(customer_keys.c.customer_id, customer_keys.c.wrapped_key).where(
                        customer_keys.c.customer_id.in_(chunk)
                    )
                ).all()
            unwrapped = {
                customer_id: self._kek.decrypt(
                    bytes(wrapped)[:NONCE_BYTES], bytes(wrapped)[NONCE_BYTES:], customer_id.bytes
                )
                for customer_id, wrapped in rows
            }
            with self._lock:
                self._cache.update(unwrapped)
            self._remembered()

    def _remembered(self) -> None:
        if self.on_remember is not None:
            self.on_remember()
