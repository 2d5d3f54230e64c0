"""The event store: eventsourcing-sqlalchemy's recorder, with its hot paths in SQLAlchemy Core.

The library inserts and reads events through ORM objects, one per event. Here inserts are one
multi-row INSERT ... RETURNING id (still under the library's table lock on PostgreSQL, so
commits keep notification-id order), on PostgreSQL usually in one round trip
(`locked_append`), and reads are plain Core selects (`log_reads`): same tables, same rows, same
semantics, several times less CPU per event.

Every query on the events table is here or in those two modules: the application, the
projection engine and the campaign follower read and write the log through this recorder only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    IntegrityError,
    StoredEvent,
    UUIDAsHex,
)
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import transactions
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder, SQLAlchemyApplicationRecorder
from psycopg2 import DatabaseError
from psycopg2.errors import DeadlockDetected, LockNotAvailable
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crm.adapters.autocommit import autocommit
from crm.adapters.bulk_append import first_ended_since, first_not_live, insert_many
from crm.adapters.customer_keys import KEYS_ERASED_CHANNEL, KeyStore, KeyTaken
from crm.adapters.deferred_writes import DeferredWrites
from crm.adapters.locked_append import append_locked
from crm.adapters.log_reads import LogReads, StreamReads, as_uuid
from crm.adapters.personal_data import PersonalDataMapper
from crm.adapters.prepared_statements import lost
from crm.adapters.stream_owners import stream_owners
from crm.adapters.uuid_reads import read_uuids_by_value
from crm.write_model.commands import NoneLive, StreamLive
from crm.write_model.errors import EventStoreBusy, StreamNotLive, StreamsStillLive

DEFAULT_LOCK_TIMEOUT_MS = 5000


class _ProjectionBehind(Exception):
    """A projection lacks events recorded before this save's, or failed, or a write sent with
    the locked part was refused (a key already stored): take the slow path."""


def _deadlock(error: BaseException | None) -> bool:
    """Whether PostgreSQL chose this transaction as a deadlock's victim (however it was wrapped)."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, DeadlockDetected) or isinstance(getattr(error, "orig", None), DeadlockDetected):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class _NoProjection:
    """Background mode: `crm projector` projects; a save only appends."""

    names: list[str] = []
    tracking: list = []

    def apply(self, session: Session) -> None:
        pass

    def committed(self, last: int) -> None:
        pass


_NO_PROJECTION = _NoProjection()


class InlineProjectionPort(Protocol):
    """What the event store asks of inline projection (`crm.projectors.engine.InlineProjection`)."""

    def before_lock(self, events: Sequence[object]) -> Any | None: ...

    def __call__(self, session: Session, events: Sequence[object], ids: Sequence[int]) -> Callable[[], None] | None: ...


# A save of more events than this (an import's batch) takes the session path: the one round
# trip's statement grows with every event and is prepared again for each new shape.
_ROUND_TRIP_MAX_EVENTS = 64
ANALYZE_AFTER_ROWS = 25_000


class CoreApplicationRecorder(LogReads, SQLAlchemyApplicationRecorder):
    """An application recorder whose inserts skip the ORM (its reads: `LogReads`)."""

    lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS
    # Inline mode: projects a save's events in the save's own transaction (set by the wiring).
    inline_projection: InlineProjectionPort | None = None
    keys: KeyStore | None = None  # new customers' keys go in with their first events

    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, session: Session | None = None, **kwargs: Any
    ) -> Sequence[int]:
        """Insert the events in one transaction (the caller's `session`, if given), checking
        the save's `conditions` and recording its `owners` under the insert lock.

        Inline, the domain events (`originals`) are projected in the same transaction: before
        the lock when their projections allow it (on PostgreSQL the locked part is then one
        round trip), else after the insert.
        """
        domain_events = kwargs.pop("originals", ())
        if not stored_events:  # a save with nothing new (e.g. an empty flush of outcomes)
            return []
        if session is not None:
            return super().insert_events(stored_events, session=session, **kwargs)
        try:
            ids = self._insert(stored_events, domain_events, **kwargs)
        except Exception as error:
            if _deadlock(error):  # a row a projection wanted, held by a writer queued for our lock
                raise IntegrityError(error) from error  # the command retries, as after any conflict
            raise
        if len(stored_events) > _ROUND_TRIP_MAX_EVENTS:
            self._note_bulk_rows(len(stored_events))
        return ids

    def _note_bulk_rows(self, rows: int) -> None:
        """Refresh PostgreSQL's statistics once bulk loads (an import's batches) have doubled
        the log since the planner last counted it: checked after every 25,000 events this process
        loads. A table loaded faster than autovacuum analyzes it is planned at its old size, and
        the batches' lookups of 1,000 ids turned into scans. A log already large is not analyzed
        again for a load that does not double it (ANALYZE of a database of 6M events: 1.1-1.7 s
        of PostgreSQL's CPU, twice in an import of 20,000 rows)."""
        self._bulk_rows = getattr(self, "_bulk_rows", 0) + rows
        next_check = getattr(self, "_next_check", ANALYZE_AFTER_ROWS)
        if self._bulk_rows < next_check or self.datastore.engine.dialect.name != "postgresql":
            return
        self._next_check = self._bulk_rows + ANALYZE_AFTER_ROWS
        loaded = self._bulk_rows - getattr(self, "_analyzed_at", 0)
        with self.datastore.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            counted = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"),
                {"table": self.events_table_name},
            ).scalar()
            if counted is not None and loaded < counted:  # -1: never counted
                return
            connection.execute(text("ANALYZE"))
        self._analyzed_at = self._bulk_rows

    def _insert(self, stored_events: Sequence[StoredEvent], domain_events: Sequence[object], **kwargs: Any):
        ids = self._append_in_one_round_trip(stored_events, domain_events, **kwargs)
        if ids is not None:
            return ids
        with self.transaction(commit=True) as session:  # or the caller's, still open
            self._insert_events(session, stored_events, **kwargs)
            ids = self._insert_stored_events(session, stored_events, **kwargs)
            if self.inline_projection is not None and domain_events and ids:
                committed = self.inline_projection(session, domain_events, ids)
                if committed is not None:
                    event.listen(session, "after_commit", lambda _: committed(), once=True)
        return ids

    def _append_in_one_round_trip(
        self, stored_events: Sequence[StoredEvent], domain_events: Sequence[object], **kwargs: Any
    ) -> Sequence[int] | None:
        """The fast path (PostgreSQL): project if inline, then lock, check, insert and advance
        in one round trip.

        None when it does not apply (SQLite, a transaction already open, a condition it does
        not check, inline events that must be projected in order) or when a projection it
        would advance lacks earlier events: then nothing was written, and the caller takes the
        slow path.
        """
        conditions = kwargs.get("conditions", ())
        if (
            len(stored_events) > _ROUND_TRIP_MAX_EVENTS
            or self.datastore.engine.dialect.name != "postgresql"
            or transactions.get(None) is not None
            or kwargs.get("destroy_keys")
            or not all(isinstance(c, StreamLive) for c in conditions)
        ):
            return None
        plan = _NO_PROJECTION
        if self.inline_projection is not None:
            plan = self.inline_projection.before_lock(domain_events) if domain_events else None
            if plan is None:
                return None
        committed: list[Callable[[], None]] = []  # what to tell once the transaction commits
        try:
            # A Core connection, not a session: nothing else shares this transaction, and an
            # ORM session's set-up, events and commit cost as much as the rest of the save.
            # Outside a transaction block (`autocommit`), the locked string is the whole
            # transaction: it commits by itself, or is refused and rolled back whole.
            with (
                self.datastore.engine.connect() as connection,
                autocommit(connection) as implicit,
                connection.begin(),
            ):
                # Keys and projection go with the locked part; outside a block, a write that
                # could not wait for it would commit alone, so it takes the slow path instead.
                writes = DeferredWrites(connection, hold=implicit)
                committed += self._store_pending_keys(writes, stored_events, unchecked=True)
                try:
                    plan.apply(writes)
                except Exception as error:  # the slow path keeps the command and reports the lag
                    if lost(error):
                        connection.invalidate()
                    raise _ProjectionBehind() from error
                before = writes.take()
                dbapi = connection.connection  # the pool's DBAPI connection
                try:
                    appended = append_locked(
                        dbapi.cursor(),
                        dbapi.info.setdefault("crm_prepared", {}),
                        self.events_table_name,
                        self.channel_name,
                        self.lock_timeout_ms,
                        stored_events,
                        conditions,
                        kwargs.get("owners") or {},
                        plan.tracking,
                        before=before,
                    )
                except DatabaseError as error:  # (a busy lock or a taken version is raised as such)
                    if lost(error):  # its statements were not what this process held: a new one
                        connection.invalidate()
                        raise _ProjectionBehind() from error
                    if not before or _deadlock(error):
                        raise
                    # A write sent ahead of the lock failed (a projection's, or a key already
                    # stored): the slow path keeps the command and reports a projection's lag,
                    # or finds the key and runs the command again.
                    raise _ProjectionBehind() from error
                if appended.not_live:
                    raise StreamNotLive(appended.not_live[0])
                if appended.advanced != set(plan.names):
                    raise _ProjectionBehind()
                last = max(appended.ids)
                committed.append(lambda: plan.committed(last))
        except _ProjectionBehind:
            return None
        for done in committed:
            done()
        return appended.ids

    def _lock_table(self, session: Session) -> None:
        """The library's table lock (commits in notification-id order), bounded by `lock_timeout`.

        Followers read "every id up to the head" safely only because inserts take this lock, so
        it is never skipped; the timeout keeps one stuck writer from stalling every other one.
        """
        if session.get_bind().dialect.name != "postgresql":
            super()._lock_table(session)
            return
        try:
            session.execute(
                text(
                    f"SET LOCAL lock_timeout = '{int(self.lock_timeout_ms)}ms'; "
                    f"LOCK TABLE {self.events_table_name} IN EXCLUSIVE MODE"
                )
            )
        except OperationalError as error:
            if isinstance(error.orig, LockNotAvailable):
                raise EventStoreBusy(self.lock_timeout_ms / 1000) from None
            raise

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        for done in self._store_pending_keys(session, stored_events):
            event.listen(session, "after_commit", lambda _, done=done: done(), once=True)
        self._lock_table(session)
        conditions = kwargs.get("conditions", ())
        self._check_streams_live(session, [c for c in conditions if isinstance(c, StreamLive)])
        for condition in conditions:
            if not isinstance(condition, StreamLive):
                self._check(session, condition)
        owners = kwargs.get("owners")
        if len(stored_events) > _ROUND_TRIP_MAX_EVENTS and session.get_bind().dialect.name == "postgresql":
            ids = insert_many(session, self.events_table_name, stored_events, owners or {})
        else:
            result = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
            ids = list(result.scalars())
            if owners:
                session.execute(stream_owners.insert(), [{"stream_id": s, "owner_id": o} for s, o in owners.items()])
        destroyed = kwargs.get("destroy_keys")
        if destroyed and self.keys is not None:
            self._destroy_keys(session, destroyed)
        self._notify_channel(session)
        return ids

    def _destroy_keys(self, session: Session, customer_ids: Sequence[UUID]) -> None:
        """Erasure: the keys go with the `Erased` event, in its transaction; every process
        forgets them once it commits (the others through a notification, on PostgreSQL)."""
        self.keys.destroy(session, customer_ids)
        if session.get_bind().dialect.name == "postgresql":
            for customer_id in customer_ids:
                notify = text("SELECT pg_notify(:channel, :id)")
                session.execute(notify, {"channel": KEYS_ERASED_CHANNEL, "id": str(customer_id)})
        event.listen(session, "after_commit", lambda _: self.keys.forget(customer_ids), once=True)

    def _store_pending_keys(
        self, session, stored_events: Sequence[StoredEvent], unchecked: bool = False
    ) -> list[Callable[[], None]]:
        """New customers' data keys, inserted in the transaction that inserts their events;
        what to call once it commits. `unchecked`: as writes held back for the locked round
        trip (`DeferredWrites`); a key already stored then fails the save's statement, and the
        slow path checks."""
        if self.keys is None:
            return []
        streams = {e.originator_id for e in stored_events}
        try:
            if unchecked:
                stored = self.keys.insert_pending_unchecked(session, streams)
            else:
                stored = self.keys.insert_pending(session, streams)
        except KeyTaken as taken:  # encrypted with a key that is not theirs: run the command again
            raise IntegrityError(taken) from taken
        return [lambda: self.keys.stored(stored)] if stored else []

    def holds(self, condition: StreamLive) -> bool:
        """Whether `condition` holds now (a read: a save checks it again under the lock)."""
        with self.transaction(commit=False) as session:
            try:
                self._check(session, condition)
            except StreamNotLive:
                return False
        return True

    def live_since_head(self, conditions: Sequence[StreamLive]) -> int:
        """Check `conditions` now, outside the insert lock (else `StreamNotLive`); the log's head
        before the check. Saved with `checked_through` set to it, they cost the locked part of
        the save only a look at the events since (PostgreSQL; elsewhere they are checked whole).

        The head is read first: the lock makes events commit in id order, so whatever commits
        after it has a higher id, and the check under the lock looks at all of those."""
        head = self.head()
        with self.transaction(commit=False) as session:
            self._check_streams_live(session, conditions)
        return head

    def _check(self, session: Session, condition: StreamLive | NoneLive) -> None:
        """Under the insert lock, so no event can slip in between the check and the insert."""
        table = self.events_record_cls.__table__
        if isinstance(condition, StreamLive):
            newest = session.execute(
                select(table.c.topic)
                .where(table.c.originator_id == condition.id)
                .order_by(table.c.originator_version.desc())
                .limit(1)
            ).scalar()
            if newest not in condition.live:
                raise StreamNotLive(condition.id)
            if condition.owner is not None:
                owner = session.execute(
                    select(stream_owners.c.owner_id).where(stream_owners.c.stream_id == condition.id)
                ).scalar()
                if owner != condition.owner:
                    raise StreamNotLive(condition.id)
            return
        # (Two steps, not a join: the library stores ids in its own column type on SQLite.)
        owned = (
            session.execute(select(stream_owners.c.stream_id).where(stream_owners.c.owner_id == condition.owner))
            .scalars()
            .all()
        )
        live = 0
        for start in range(0, len(owned), 1000):
            newest = self._newest_topic(table.c.originator_id.in_(owned[start : start + 1000]))
            live += sum(1 for topic in session.execute(newest).scalars() if topic in condition.live)
        if live:
            raise StreamsStillLive(condition.owner, live)

    def _check_streams_live(self, session: Session, conditions: Sequence[StreamLive]) -> None:
        """`_check` of many `StreamLive` conditions at once (an import's batch): on PostgreSQL one
        statement that answers the first stream failing, elsewhere two queries per 1,000."""
        if len(conditions) <= 1:
            for condition in conditions:
                self._check(session, condition)
            return
        if session.get_bind().dialect.name == "postgresql":
            checked = [c for c in conditions if c.checked_through is not None]
            whole = [c for c in conditions if c.checked_through is None]
            failing = (whole and first_not_live(session, self.events_table_name, whole)) or (
                checked and first_ended_since(session, self.events_table_name, checked)
            )
            if failing:
                raise StreamNotLive(failing)
            return
        table = self.events_record_cls.__table__
        for start in range(0, len(conditions), 1000):
            some = conditions[start : start + 1000]
            newest = self._newest_topic(table.c.originator_id.in_([c.id for c in some])).add_columns(
                table.c.originator_id
            )
            topics = {as_uuid(stream): topic for topic, stream in session.execute(newest)}
            owned = [c.id for c in some if c.owner is not None]
            query = select(stream_owners.c.stream_id, stream_owners.c.owner_id).where(
                stream_owners.c.stream_id.in_(owned)
            )
            owners = dict(session.execute(query).all()) if owned else {}
            for c in some:
                if topics.get(c.id) not in c.live or (c.owner is not None and owners.get(c.id) != c.owner):
                    raise StreamNotLive(c.id)

    def _newest_topic(self, of_streams):
        """The topic of the newest event of each stream `of_streams` selects."""
        table = self.events_record_cls.__table__
        same_stream = table.alias("same_stream")
        newest = (
            select(func.max(same_stream.c.originator_version))
            .where(same_stream.c.originator_id == table.c.originator_id)
            .scalar_subquery()
        )
        return select(table.c.topic).where(of_streams, table.c.originator_version == newest)


class CoreSnapshotRecorder(StreamReads, SQLAlchemyAggregateRecorder):
    """The snapshots' recorder, reading a snapshot as the log's recorder reads events (loading
    an aggregate reads its newest snapshot first: an ORM query of the library's otherwise)."""


class Factory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the Core recorders (PERSISTENCE_MODULE points here)."""

    application_recorder_class = CoreApplicationRecorder
    aggregate_recorder_class = CoreSnapshotRecorder

    def application_recorder(self) -> CoreApplicationRecorder:
        recorder = super().application_recorder()
        recorder.lock_timeout_ms = int(self.env.get("LOCK_TIMEOUT_MS") or DEFAULT_LOCK_TIMEOUT_MS)
        return recorder


@dataclass(frozen=True)
class EventStore:
    """What the application and the projection engine share: where events go and how they read."""

    factory: Factory
    recorder: CoreApplicationRecorder
    mapper: PersonalDataMapper  # encrypts personal data with each customer's key
    keys: KeyStore

    @property
    def engine(self):
        return self.factory.datastore.engine


def open_event_store(url: str, secret: bytes, *, create_tables: bool = False, lock_timeout: float = 5.0) -> EventStore:
    """Connect to the event store at `url` (`create_tables`: only `crm migrate` creates them)."""
    env = Environment(
        "crm",
        {
            "SQLALCHEMY_URL": url,
            "CREATE_TABLE": "y" if create_tables else "n",
            "LOCK_TIMEOUT_MS": str(max(1, round(lock_timeout * 1000))),
            "IS_SNAPSHOTTING_ENABLED": "y",
        },
    )
    factory = Factory(env)
    transcoder = factory.transcoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # as the library's Application does
        transcoder.register(transcoding)
    read_uuids_by_value(factory.datastore.engine)
    keys = KeyStore(factory.datastore, secret)
    recorder = factory.application_recorder()
    recorder.keys = keys
    mapper = PersonalDataMapper(transcoder, keys)
    mapper.recorder = recorder  # reads an erased stream's redacted forms
    return EventStore(factory, recorder, mapper, keys)
