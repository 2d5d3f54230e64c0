"""Rebuilding a projection without downtime: replay into fresh tables, then swap them in.

1. Fresh, empty copies of the projection's tables are created in a side schema (PostgreSQL)
   or an attached side database (SQLite), with the same names, columns and indexes.
2. The whole log is replayed into them in large batches, while the live projection keeps
   serving readers and following new events.
3. One short transaction locks the projection's tracking row (the live projector's batches
   wait on it), applies to the copies the few events that arrived meanwhile, swaps the copies
   in for the live tables and sets the position. Readers see the old tables or the new ones,
   never a half-built one; the live projector resumes from the new position.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from crm.projectors.base import Projector
from crm.read_model.tables import projection_tracking

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
SIDE = "crm_rebuild"  # the side schema (PostgreSQL) or attached database (SQLite)


class _SideSession(Session):
    """A session whose statements address the side tables (the projectors' own SQL, unchanged)."""

    def execute(self, statement, params=None, *, execution_options=None, **kwargs):
        options = {**(execution_options or {}), "schema_translate_map": {None: SIDE}}
        return super().execute(statement, params, execution_options=options, **kwargs)


class Rebuilder:
    """Rebuilds projections of a `ProjectionRunner` by build-then-swap."""

    def __init__(self, runner, batch_size: int = 5000):
        self.runner = runner
        self.app = runner.app
        self.batch_size = batch_size
        self.engine = self.app.factory.datastore.engine

    def rebuild(self, name: str, progress: Progress | None = None) -> int:
        """Rebuild one projection; return the number of events applied to it."""
        projector = self.runner.projectors[name]
        if self.engine.dialect.name == "postgresql":
            return self._rebuild(projector, self.engine.connect(), progress, self._swap_postgres)
        side_file = Path(f"{make_url(str(self.engine.url)).database}.{SIDE}-{name}")
        side_file.unlink(missing_ok=True)
        engine = create_engine(self.engine.url, poolclass=NullPool)
        connection = engine.connect()
        connection.exec_driver_sql(f"ATTACH DATABASE '{side_file}' AS {SIDE}")
        try:
            return self._rebuild(projector, connection, progress, self._swap_sqlite)
        finally:
            engine.dispose()
            for leftover in (side_file, Path(f"{side_file}-wal"), Path(f"{side_file}-shm")):
                leftover.unlink(missing_ok=True)

    # -- the three steps --------------------------------------------------------------------

    def _rebuild(self, projector: Projector, connection: Connection, progress: Progress | None, swap) -> int:
        with connection:
            self._create_side_tables(projector, connection)
            position, applied = 0, 0
            while True:  # replay up to the head, then again up to the new head, until close
                head = self._head()
                if head - position <= self.batch_size:
                    break
                position, count = self._replay(projector, connection, position, head, progress, commit_every_batch=True)
                applied += count
            applied += swap(projector, connection, position, progress)
            return applied

    def _create_side_tables(self, projector: Projector, connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SIDE} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SIDE}"))
        side = MetaData()
        for table in projector.tables:  # same names, columns and indexes, in the side schema
            table.to_metadata(side, schema=SIDE).create(connection)
        connection.commit()

    def _replay(
        self,
        projector: Projector,
        connection: Connection,
        start: int,
        stop: int,
        progress: Progress | None,
        commit_every_batch: bool,
    ) -> tuple[int, int]:
        """Apply the projector's events in (start, stop] to the side tables; return (stop, applied)."""
        topics = tuple(sorted(projector.topics))
        position, applied = start, 0
        with _SideSession(bind=connection) as session:
            while position < stop:
                notifications = self.app.recorder.select_notifications(
                    position, self.batch_size, stop=stop, topics=topics, inclusive_of_start=False
                )
                end = notifications[-1].id if len(notifications) == self.batch_size else stop
                projector.begin_batch(session)
                for notification in notifications:
                    projector.handle(self.app.mapper.to_domain_event(notification), session)
                projector.end_batch(session)
                if commit_every_batch:
                    session.commit()
                position, applied = end, applied + len(notifications)
                if progress:
                    progress(projector.name, position, stop)
        return position, applied

    def _swap_postgres(self, projector: Projector, connection: Connection, position: int, progress) -> int:
        live = connection.execute(text("SELECT current_schema()")).scalar_one()
        self._lock_tracking(connection, projector.name)
        head = max(self._head(), self._live_position(connection, projector.name))
        _, applied = self._replay(projector, connection, position, head, progress, commit_every_batch=False)
        for table in projector.tables:
            connection.execute(text(f'DROP TABLE "{live}"."{table.name}"'))
            connection.execute(text(f'ALTER TABLE {SIDE}."{table.name}" SET SCHEMA "{live}"'))
        connection.execute(text(f"DROP SCHEMA {SIDE}"))
        self._set_position(connection, projector.name, head)
        connection.execute(text("SELECT pg_notify('crm_projected', :p)"), {"p": f"{projector.name}:{head}"})
        connection.commit()
        return applied

    def _swap_sqlite(self, projector: Projector, connection: Connection, position: int, progress) -> int:
        self._lock_tracking(connection, projector.name)  # a write: takes SQLite's write lock
        head = max(self._head(), self._live_position(connection, projector.name))
        _, applied = self._replay(projector, connection, position, head, progress, commit_every_batch=False)
        for table in reversed(projector.tables):
            connection.execute(table.delete())
        for table in projector.tables:
            columns = [column.name for column in table.columns]
            source = table.to_metadata(MetaData(), schema=SIDE)
            connection.execute(table.insert().from_select(columns, select(*[source.c[c] for c in columns])))
        self._set_position(connection, projector.name, head)
        connection.commit()
        connection.exec_driver_sql(f"DETACH DATABASE {SIDE}")
        return applied

    # -- helpers -----------------------------------------------------------------------------

    def _head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    @staticmethod
    def _lock_tracking(connection: Connection, name: str) -> None:
        """Hold the projection's tracking row until commit: live batches wait for the swap."""
        from crm.projectors import tracking

        with Session(bind=connection) as session:
            tracking.locked_position(session, name)
            if connection.dialect.name == "sqlite":  # no FOR UPDATE: a write takes the lock
                session.execute(
                    projection_tracking.update()
                    .where(projection_tracking.c.name == name)
                    .values(position=projection_tracking.c.position)
                )

    @staticmethod
    def _live_position(connection: Connection, name: str) -> int:
        query = select(projection_tracking.c.position).where(projection_tracking.c.name == name)
        return connection.execute(query).scalar() or 0

    @staticmethod
    def _set_position(connection: Connection, name: str, position: int) -> None:
        connection.execute(
            projection_tracking.update().where(projection_tracking.c.name == name).values(position=position)
        )
