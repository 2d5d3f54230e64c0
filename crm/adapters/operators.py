"""Dashboard operators: email and password (scrypt hash), and the lockout after failed logins.

Operators see every restaurant. After MAX_FAILURES failed logins for one email within WINDOW,
that email is locked for LOCKOUT: every attempt is refused, even with the right password. The
failures and the lock are rows in the database, counted and decided in one transaction per
attempt, so the rule holds exactly across server processes and concurrent attempts.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError
from sqlalchemy import Column, DateTime, Index, String, Table, Uuid, delete, func, select, update

from crm import dialects
from crm.adapters.schema import metadata
from crm.write_model import validation
from crm.write_model.errors import Conflict, DomainError, InvalidInput, NotFound

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
ACTOR_PREFIX = "operator:"
PASSWORD_HASH = "scrypt"  # werkzeug's scrypt KDF: N=2**15, r=8, p=1, a random 16-byte salt

operators = Table(
    "operators",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # normalised (case-folded)
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_email_failed_at", "email", "failed_at"),
)

login_lockouts = Table(
    "login_lockouts",
    metadata,
    Column("email", String(254), primary_key=True),
    Column("locked_until", DateTime(timezone=True), nullable=False),
)


def _hash(password: str) -> str:
    # werkzeug is imported on first use: loading it (its whole package comes with its security
    # module) costs a worker process, which never logs anyone in, 2.7 MB.
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method=PASSWORD_HASH)


def _matches(password_hash: str, password: str) -> bool:
    from werkzeug.security import check_password_hash

    return check_password_hash(password_hash, password)


@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a miss costs as long as a wrong password."""
    return _hash("not-a-password-of-anyone")


class InvalidLogin(DomainError):
    def __init__(self):
        super().__init__("wrong email or password")


class LoginLocked(DomainError):
    def __init__(self, until: datetime, now: datetime):
        super().__init__("too many failed logins for this email; try again later")
        self.until = until
        self.seconds_left = max(1, math.ceil((until - now).total_seconds()))


@dataclass(frozen=True)
class Operator:
    id: UUID
    email: str
    # Changes whenever the password does: a session keeps the one it logged in with, and ends
    # at its next request once they differ (see `password_stamp`).
    password_stamp: str = field(default="", repr=False, compare=False)

    @property
    def actor(self) -> str:
        """What events caused by this operator record as their actor."""
        return ACTOR_PREFIX + self.email


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def normalised(email: str) -> str:
    return validation.normalised_email(email)


class OperatorNotFound(NotFound):
    def __init__(self, email: str):
        super().__init__("operator", email)


def password_stamp(password_hash: str) -> str:
    """A digest of the password's salted hash (never the hash itself, which would go into a
    readable cookie): a new password, even the same one again, gets a new salt and a new stamp."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _checked(password: str) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput("password", f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    return _hash(password)


class Operators:
    """Creates, lists and removes operators and checks their logins, with the lockout rule."""

    def __init__(self, datastore, clock: Callable[[], datetime]):
        self._datastore = datastore
        self._clock = clock

    def create(self, email: str, password: str) -> Operator:
        """Add an operator; the email is unique (ignoring case)."""
        email = normalised(validation.email(email))
        password_hash = _checked(password)
        if self.get(email) is not None:
            raise Conflict(f"an operator with the email {email} already exists")
        operator = Operator(id=uuid4(), email=email, password_stamp=password_stamp(password_hash))
        try:
            with self._datastore.transaction(commit=True) as session:
                session.execute(
                    operators.insert().values(
                        id=operator.id, email=email, password_hash=password_hash, created_at=self._clock()
                    )
                )
        except IntegrityError:  # created by someone else since the check above
            raise Conflict(f"an operator with the email {email} already exists") from None
        return operator

    def get(self, email: str) -> Operator | None:
        with self._datastore.transaction(commit=False) as session:
            row = session.execute(
                select(operators.c.id, operators.c.email, operators.c.password_hash).where(
                    operators.c.email == normalised(email)
                )
            ).first()
        return None if row is None else Operator(row.id, row.email, password_stamp(row.password_hash))

    def all(self) -> list[dict]:
        """Every operator by email: `email`, `created_at`, and `locked_until` (None when not locked)."""
        now = self._clock()
        with self._datastore.transaction(commit=False) as session:
            rows = session.execute(
                select(operators.c.email, operators.c.created_at, login_lockouts.c.locked_until)
                .outerjoin(login_lockouts, login_lockouts.c.email == operators.c.email)
                .order_by(operators.c.email)
            ).all()
        return [
            {
                "email": row.email,
                "created_at": _utc(row.created_at),
                "locked_until": until if (until := _utc(row.locked_until)) is not None and until > now else None,
            }
            for row in rows
        ]

    def set_password(self, email: str, password: str) -> None:
        """Replace the operator's password (same rules as at creation): the sessions logged in
        with the old one end at their next request. A lockout stays as it is."""
        password_hash = _checked(password)
        with self._datastore.transaction(commit=True) as session:
            changed = session.execute(
                update(operators).where(operators.c.email == normalised(email)).values(password_hash=password_hash)
            ).rowcount
        if not changed:
            raise OperatorNotFound(normalised(email))

    def remove(self, email: str) -> None:
        """Delete the operator, with its failed logins and lockout; its sessions end at their next request."""
        email = normalised(email)
        with self._datastore.transaction(commit=True) as session:
            removed = session.execute(delete(operators).where(operators.c.email == email)).rowcount
            if removed:
                self._forget(session, email)
        if not removed:
            raise OperatorNotFound(email)

    def unlock(self, email: str) -> bool:
        """Lift the operator's lockout and forget their failed logins; whether they were locked."""
        email, now = normalised(email), self._clock()
        with self._datastore.transaction(commit=True) as session:
            if session.execute(select(operators.c.id).where(operators.c.email == email)).first() is None:
                raise OperatorNotFound(email)
            locked_until = _utc(
                session.execute(select(login_lockouts.c.locked_until).where(login_lockouts.c.email == email)).scalar()
            )
            self._forget(session, email)
        return locked_until is not None and locked_until > now

    def log_in(self, email: str, password: str) -> Operator:
        """The operator, if the password is right and the email is not locked.

        Raises LoginLocked (nothing is checked or counted while locked) or InvalidLogin.
        """
        email = normalised(email)[:254]
        now = self._clock()
        locked_if_wrong = self._take_attempt(email, now)
        with self._datastore.transaction(commit=False) as session:
            row = session.execute(
                select(operators.c.id, operators.c.password_hash).where(operators.c.email == email)
            ).first()
        if _matches(row.password_hash if row else _dummy_hash(), password) and row is not None:
            with self._datastore.transaction(commit=True) as session:
                session.execute(delete(login_failures).where(login_failures.c.email == email))
                if locked_if_wrong is not None:  # the lock this attempt set in advance: lift it
                    session.execute(
                        delete(login_lockouts).where(
                            login_lockouts.c.email == email, login_lockouts.c.locked_until == locked_if_wrong
                        )
                    )
            return Operator(id=row.id, email=email, password_stamp=password_stamp(row.password_hash))
        raise InvalidLogin()

    def _take_attempt(self, email: str, now: datetime) -> datetime | None:
        """Count this attempt as a failure before its password is checked (a success takes it back),
        deciding the lockout in the same transaction; LoginLocked when no attempt is left.

        The upsert of the email's `login_lockouts` row comes first: it holds that row's lock
        (PostgreSQL) or the database's write lock (SQLite) until the commit, so concurrent attempts
        for one email, from any process, are counted one after the other and no more than
        MAX_FAILURES get their password checked. The last of them locks the email at once; if
        its password was right, `log_in` lifts that lock (returned here) again.
        """
        with self._datastore.transaction(commit=True) as session:
            dialect = session.get_bind().dialect.name
            locked_until = _utc(
                session.execute(
                    dialects.insert(dialect, login_lockouts)
                    .values(email=email, locked_until=now)  # until now: not locked
                    .on_conflict_do_update(
                        index_elements=["email"], set_={"locked_until": login_lockouts.c.locked_until}
                    )
                    .returning(login_lockouts.c.locked_until)
                ).scalar_one()
            )
            if locked_until > now:
                raise LoginLocked(locked_until, now)  # (rolls the no-op upsert back)
            earlier = session.execute(
                select(func.count())
                .select_from(login_failures)
                .where(login_failures.c.email == email, login_failures.c.failed_at > now - WINDOW)
            ).scalar_one()
            session.execute(delete(login_failures).where(login_failures.c.failed_at <= now - WINDOW))
            if earlier + 1 < MAX_FAILURES:
                session.execute(login_failures.insert().values(id=uuid4(), email=email, failed_at=now))
                session.execute(delete(login_lockouts).where(login_lockouts.c.email == email))  # it only queued us
                return None
            until = now + LOCKOUT
            session.execute(update(login_lockouts).where(login_lockouts.c.email == email).values(locked_until=until))
            # The lock takes these failures into account: the next window starts afresh.
            session.execute(delete(login_failures).where(login_failures.c.email == email))
            return until

    @staticmethod
    def _forget(session, email: str) -> None:
        session.execute(delete(login_failures).where(login_failures.c.email == email))
        session.execute(delete(login_lockouts).where(login_lockouts.c.email == email))
