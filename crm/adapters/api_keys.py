"""API keys: random secrets, stored only as hashes, scoped to one restaurant or admin."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID, uuid4

from sqlalchemy import Boolean, Column, DateTime, String, Table, Uuid, select, update

from crm.adapters.schema import metadata
from crm.write_model.errors import Conflict, InvalidInput, NotFound

KEY_PREFIX = "crm_"

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("restaurant_id", Uuid, nullable=True),
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name (recorded as the actor) and its scope."""

    name: str
    restaurant_id: UUID | None  # None: admin, sees every restaurant

    @property
    def is_admin(self) -> bool:
        return self.restaurant_id is None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeys:
    """Issues, checks and revokes API keys.

    A key that authenticated is remembered for `remember_seconds` (under a second), so a busy
    process looks each key up about once a second, not on every request; a revocation from any
    process is honoured everywhere within that time. Unknown keys are never remembered.
    """

    _MAX_REMEMBERED = 10_000

    def __init__(self, datastore, *, remember_seconds: float = 0.5, clock: Callable[[], float] = time.monotonic):
        self._datastore = datastore
        self._remember_seconds = remember_seconds
        self._clock = clock
        self._remembered: dict[str, tuple[float, Principal]] = {}

    def issue(self, name: str, restaurant_id: UUID | None) -> str:
        """Create a key and return it; only its hash is kept."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("name", "must be 1 to 100 characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        if self.name_taken(name):
            raise Conflict(f"an API key named {name!r} already exists (names are never reused)")
        with self._datastore.transaction(commit=True) as session:
            session.execute(
                api_keys.insert().values(
                    id=uuid4(),
                    name=name,
                    key_hash=_hash(key),
                    restaurant_id=restaurant_id,
                    is_admin=restaurant_id is None,
                    created_at=datetime.now(timezone.utc),
                )
            )
        return key

    def revoke(self, name: str) -> None:
        self._remembered.clear()  # this process at once; the others within `remember_seconds`
        with self._datastore.transaction(commit=True) as session:
            result = session.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(timezone.utc))
            )
            if result.rowcount != 1:
                raise NotFound("api key", name)

    def name_taken(self, name: str) -> bool:
        """Names stay taken after revocation, so the actor in old events stays unambiguous."""
        with self._datastore.transaction(commit=False) as session:
            return session.execute(select(api_keys.c.id).where(api_keys.c.name == name)).first() is not None

    def has_admin_key(self) -> bool:
        with self._datastore.transaction(commit=False) as session:
            row = session.execute(
                select(api_keys.c.id).where(api_keys.c.is_admin.is_(True), api_keys.c.revoked_at.is_(None))
            ).first()
        return row is not None

    def authenticate(self, key: str) -> Principal | None:
        """The principal behind `key`, or None when it is unknown or revoked."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = _hash(key)
        now = self._clock()
        remembered = self._remembered.get(digest)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        principal = self._look_up(digest)
        if principal is not None:
            if len(self._remembered) >= self._MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[digest] = (now + self._remember_seconds, principal)
        return principal

    def _look_up(self, digest: str) -> Principal | None:
        with self._datastore.transaction(commit=False) as session:
            row = session.execute(
                select(api_keys.c.name, api_keys.c.key_hash, api_keys.c.restaurant_id, api_keys.c.revoked_at).where(
                    api_keys.c.key_hash == digest
                )
            ).first()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return Principal(name=row.name, restaurant_id=row.restaurant_id)
