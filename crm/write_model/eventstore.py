"""The event store: eventsourcing-sqlalchemy's recorder, with its hot paths in SQLAlchemy Core.

The library inserts and reads events through ORM objects, one per event. Here inserts are one
multi-row INSERT ... RETURNING id (still under the library's table lock on PostgreSQL, so
commits keep notification-id order) and reads are plain Core selects: same tables, same rows,
same semantics, several times less CPU per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from psycopg2.errors import LockNotAvailable
from sqlalchemy import insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crm.write_model.errors import EventStoreBusy

DEFAULT_LOCK_TIMEOUT_MS = 5000


def _bytes(state: Any) -> bytes:
    return bytes(state) if isinstance(state, memoryview) else state


class CoreApplicationRecorder(SQLAlchemyApplicationRecorder):
    """An application recorder whose inserts and selects skip the ORM."""

    lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS

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
        self._lock_table(session)
        result = session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        ids = list(result.scalars())
        self._notify_channel(session)
        return ids

    def select_events(
        self,
        originator_id: UUID | str,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        table = self.events_record_cls.__table__
        version = table.c.originator_version
        query = select(table.c.originator_id, version, table.c.topic, table.c.state).where(
            table.c.originator_id == originator_id
        )
        if gt is not None:
            query = query.where(version > gt)
        if lte is not None:
            query = query.where(version <= lte)
        query = query.order_by(version.desc() if desc else version)
        if limit is not None:
            query = query.limit(limit)
        with self.transaction(commit=False) as session:
            return [
                StoredEvent(originator_id=r[0], originator_version=r[1], topic=r[2], state=_bytes(r[3]))
                for r in session.execute(query)
            ]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        table = self.events_record_cls.__table__
        query = select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
        if start is not None:
            query = query.where(table.c.id >= start if inclusive_of_start else table.c.id > start)
        if stop is not None:
            query = query.where(table.c.id <= stop)
        if topics:
            query = query.where(table.c.topic.in_(topics))
        query = query.order_by(table.c.id).limit(limit)
        with self.transaction(commit=False) as session:
            return [
                Notification(id=r[0], originator_id=r[1], originator_version=r[2], topic=r[3], state=_bytes(r[4]))
                for r in session.execute(query)
            ]


class Factory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory with the Core recorder (PERSISTENCE_MODULE points here)."""

    application_recorder_class = CoreApplicationRecorder

    def application_recorder(self) -> CoreApplicationRecorder:
        recorder = super().application_recorder()
        recorder.lock_timeout_ms = int(self.env.get("LOCK_TIMEOUT_MS") or DEFAULT_LOCK_TIMEOUT_MS)
        return recorder
