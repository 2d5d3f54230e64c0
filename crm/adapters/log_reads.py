"""Reads of the event log, in SQLAlchemy Core: the recorder's selects (see `event_store`).

Every query that reads the events table lives here or in `event_store`: the application, the
projection engine and the campaign follower read the log through these methods only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.datastore import transactions
from sqlalchemy import Uuid, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from crm.adapters.autocommit import autocommit
from crm.adapters.prepared_statements import driver_cursor
from crm.adapters.stream_owners import stream_owners

WINDOW = 4  # a window read covers at most WINDOW x its limit of notification ids


def _bytes(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state


def as_uuid(value: Any) -> UUID:
    """An id as read from the database (a UUID, or the library's column type's string)."""
    return value if isinstance(value, UUID) else UUID(str(value))


class StreamReads:
    """A stream's events, read in Core (a mixin of the log's recorder and the snapshots')."""

    @contextmanager
    def _reading(self, one_statement: bool = False) -> Iterator[Any]:
        """What a read executes on: the caller's transaction, if one is open; else, on
        PostgreSQL, a Core connection of its own (a read through an ORM session costs twice the
        CPU: the session's set-up and rollback; a worker checks its campaign's newest version
        every few milliseconds while it sends), outside a transaction block for `one_statement`
        (one round trip: no BEGIN, no ROLLBACK); else the library's transaction (SQLite's locks)."""
        engine = self.datastore.engine
        if transactions.get(None) is None and engine.dialect.name == "postgresql":
            with engine.connect() as connection, autocommit(connection) if one_statement else nullcontext():
                yield connection
        else:
            with self.transaction(commit=False) as session:
                yield session

    def _driver_rows(self, sql: str, arguments: tuple) -> list[tuple] | None:
        """The rows of `sql` (psycopg2's placeholders) read from the driver's cursor on
        PostgreSQL, in the caller's transaction if one is open; None on another database. For
        the reads made many times a second (`crm projector` at every wake, the campaign
        follower's poll, a sender's check of its campaign), where building, compiling and
        running a SQLAlchemy statement took more of the projector's CPU than applying events."""
        if self.datastore.engine.dialect.name != "postgresql":
            return None
        with self._reading(one_statement=True) as executor:
            connection = executor.connection() if isinstance(executor, Session) else executor
            with driver_cursor(connection, sql, arguments) as cursor:
                return cursor.fetchall()

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        shape = (gt is not None, lte is not None, desc, limit is not None)
        queries = self.__dict__.setdefault("_select_events_queries", {})
        query = queries.get(shape)
        if query is None:  # one statement per shape, built once: loading an aggregate is frequent
            table = self.events_record_cls.__table__
            version = table.c.originator_version
            query = select(table.c.originator_id, version, table.c.topic, table.c.state).where(
                table.c.originator_id == bindparam("id")
            )
            if gt is not None:
                query = query.where(version > bindparam("gt"))
            if lte is not None:
                query = query.where(version <= bindparam("lte"))
            query = query.order_by(version.desc() if desc else version)
            if limit is not None:
                query = query.limit(bindparam("limit"))
            queries[shape] = query
        params = {"id": originator_id, "gt": gt, "lte": lte, "limit": limit}
        with self._reading() as session:
            return [
                StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=_bytes(r[3]))
                for r in session.execute(query, {k: v for k, v in params.items() if v is not None})
            ]


class LogReads(StreamReads):
    """Selects on the events table (a mixin of `CoreApplicationRecorder`)."""

    def owned_streams(self, owner_id: UUID) -> list[UUID]:
        """The streams saved as owned by `owner_id` (a customer's visits)."""
        query = select(stream_owners.c.stream_id).where(stream_owners.c.owner_id == owner_id)
        with self._reading() as session:
            return list(session.execute(query).scalars())

    def _one_of(self, ids: Sequence[UUID]):
        """`originator_id IN ids`; on PostgreSQL `= ANY(array)`, one parameter instead of one per
        id: for an import's 2,000 index ids, 6 ms of the client's CPU instead of 15."""
        column = self.events_record_cls.__table__.c.originator_id
        if self.datastore.engine.dialect.name == "postgresql":
            return column == func.any(bindparam(None, list(ids), type_=postgresql.ARRAY(Uuid)))
        return column.in_(ids)

    def select_streams(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of these streams, in the order they were recorded (notification id)."""
        table = self.events_record_cls.__table__
        events: list[tuple[int, StoredEvent]] = []
        with self._reading() as session:
            for start in range(0, len(originator_ids), 1000):
                query = select(
                    table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state
                ).where(self._one_of(originator_ids[start : start + 1000]))
                events.extend(
                    (r[0], StoredEvent(originator_id=r[1], originator_version=r[2], topic=r[3], state=_bytes(r[4])))
                    for r in session.execute(query)
                )
        return [event for _, event in sorted(events, key=lambda pair: pair[0])]

    def existing_streams(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these streams the log holds (their first event, one indexed query per 1,000)."""
        table = self.events_record_cls.__table__
        found: set[UUID] = set()
        with self._reading() as session:
            for start in range(0, len(originator_ids), 1000):
                query = select(table.c.originator_id).where(
                    self._one_of(originator_ids[start : start + 1000]), table.c.originator_version == 1
                )
                found.update(as_uuid(i) for i in session.execute(query).scalars())
        return found

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
        partition: tuple[int, int] | None = None,
    ) -> list[Notification]:
        found = self._driver_notifications(start, limit, stop, topics, inclusive_of_start, partition)
        if found is not None:
            return found
        return self._core_notifications(start, limit, stop, topics, inclusive_of_start, partition)

    def _core_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
        partition: tuple[int, int] | None,
    ) -> list[Notification]:
        """`select_notifications` as a SQLAlchemy statement (SQLite)."""
        table = self.events_record_cls.__table__
        query = select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
        if start is not None:
            query = query.where(table.c.id >= start if inclusive_of_start else table.c.id > start)
        if stop is not None:
            query = query.where(table.c.id <= stop)
        if topics:
            query = query.where(table.c.topic.in_(topics))
        if partition is not None:  # PostgreSQL: streams split by the last byte of their id
            part, parts = partition
            query = query.where(func.get_byte(func.uuid_send(table.c.originator_id), 15).op("%")(parts) == part)
        query = query.order_by(table.c.id).limit(limit)
        with self._reading() as session:
            rows = session.execute(query).fetchall()  # one fetch: iterating fetches a row per call
        return [
            Notification(id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=_bytes(r[4]))
            for r in rows
        ]

    def _driver_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
        partition: tuple[int, int] | None = None,
    ) -> list[Notification] | None:
        """`select_notifications` on PostgreSQL (else None)."""
        where, arguments = [], []
        if start is not None:
            where.append("id >= %s" if inclusive_of_start else "id > %s")
            arguments.append(start)
        if stop is not None:
            where.append("id <= %s")
            arguments.append(stop)
        if topics:
            where.append("topic = ANY(%s)")
            arguments.append(list(topics))
        if partition is not None:  # streams split by the last byte of their id
            where.append("get_byte(uuid_send(originator_id), 15) %% %s = %s")
            arguments.extend((partition[1], partition[0]))
        rows = self._driver_rows(
            f"SELECT id, originator_id, originator_version, topic, state FROM {self.events_table_name}"
            f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id LIMIT %s",
            (*arguments, limit),
        )
        if rows is None:
            return None
        return [
            Notification(id=r[0], originator_id=as_uuid(r[1]), originator_version=r[2], topic=r[3], state=_bytes(r[4]))
            for r in rows
        ]

    # -- reads of the log as a whole ---------------------------------------------------------

    def head(self) -> int:
        """The highest notification id recorded (0 for an empty log). Asked many times a second
        (followers, read-your-writes waits): one statement, read from the driver's cursor on
        PostgreSQL (`_driver_rows`), else a Core statement built once, not an ORM query."""
        rows = self._driver_rows(f"SELECT max(id) FROM {self.events_table_name}", ())
        if rows is not None:
            return rows[0][0] or 0
        query = self.__dict__.get("_head_query")
        if query is None:
            table = self.events_record_cls.__table__
            query = self.__dict__["_head_query"] = select(func.max(table.c.id))
        with self._reading() as session:
            return session.execute(query).scalar() or 0

    def count(self, after: int = 0, topics: Sequence[str] = ()) -> int:
        """How many events have an id above `after` (and, if given, one of `topics`)."""
        table = self.events_record_cls.__table__
        query = select(func.count()).select_from(table)
        if after:
            query = query.where(table.c.id > after)
        if topics:
            query = query.where(table.c.topic.in_(topics))
        with self._reading() as session:
            return session.execute(query).scalar_one()

    def head_and_topics_after(self, start: int) -> tuple[int, set[str]]:
        """The head of the log and the topics of the events after `start` up to it (no state
        read, nothing decoded), in one statement: `crm projector` asks at every wake. With no
        event after `start`, the head is given as `start`."""
        rows = self._driver_rows(
            f"SELECT DISTINCT e.topic, h.head FROM (SELECT max(id) AS head FROM {self.events_table_name}) h"
            f" JOIN {self.events_table_name} e ON e.id > %s AND e.id <= h.head",
            (start,),
        )
        if rows is None:
            rows = self._core_head_and_topics_after(start)
        return (rows[0][1] if rows else start), {topic for topic, _ in rows}

    def _core_head_and_topics_after(self, start: int) -> list:
        """`head_and_topics_after`'s rows (topic, head) from a SQLAlchemy statement (SQLite)."""
        query = self.__dict__.get("_head_and_topics_query")
        if query is None:
            table = self.events_record_cls.__table__
            head = select(func.max(table.c.id)).scalar_subquery()  # one snapshot: the same head twice
            query = self.__dict__["_head_and_topics_query"] = (
                select(table.c.topic, head).where(table.c.id > bindparam("start"), table.c.id <= head).distinct()
            )
        with self._reading() as session:
            return session.execute(query, {"start": start}).all()

    def latest_version(self, originator_id: UUID) -> int:
        """The version of the aggregate's newest event (0 if it has none): one indexed lookup."""
        rows = self._driver_rows(
            f"SELECT max(originator_version) FROM {self.events_table_name} WHERE originator_id = %s", (originator_id,)
        )
        if rows is not None:
            return rows[0][0] or 0
        query = self.__dict__.get("_latest_version_query")
        if query is None:  # built once: a sender asks every few milliseconds
            table = self.events_record_cls.__table__
            query = self.__dict__["_latest_version_query"] = select(func.max(table.c.originator_version)).where(
                table.c.originator_id == bindparam("id")
            )
        with self._reading() as session:
            return session.execute(query, {"id": originator_id}).scalar() or 0

    def read_window(
        self, start: int, stop: int, limit: int, topics: Sequence[str] = (), partition: tuple[int, int] | None = None
    ) -> tuple[list[Notification], int]:
        """Up to `limit` events of `topics` after `start`, and the position they bring a reader to
        (`partition`: (k, n), only the events of the k-th of n sets of streams).

        The id range read is bounded (at most WINDOW x `limit` ids past `start`, never past
        `stop`), so a reader far behind, or one whose topics are rare, never asks for a sort of
        the whole rest of the log (which a planner with stale statistics does, at a second a
        query on a million events). Every id up to `stop` must be committed or never will be
        (inserts lock the table and commit in id order), so the reader may jump to the window's
        end: gaps are passed, never waited for.
        """
        window_end = min(stop, start + WINDOW * limit)
        notifications = self.select_notifications(
            start, limit, stop=window_end, topics=topics, inclusive_of_start=False, partition=partition
        )
        end = notifications[-1].id if len(notifications) == limit else window_end
        return notifications, end
