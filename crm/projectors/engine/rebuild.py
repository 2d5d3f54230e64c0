"""Rebuilding a projection without downtime: replay into fresh tables, then swap them in.

1. Fresh, empty copies of the projection's tables are created in a side schema (PostgreSQL)
   or an attached side database (SQLite), with the same names, columns and indexes.
2. The whole log is replayed into them in large batches, while the live projection keeps
   serving readers and following new events (on PostgreSQL, in phases by several processes
   for a projection that has them: `phased_replay.py`; the others together, in one read of
   the log).
3. One short transaction locks the projection's tracking row (the live projector's batches
   wait on it), applies to the copies the few events that arrived meanwhile, swaps the copies
   in for the live tables and sets the position. Readers see the old tables or the new ones,
   never a half-built one; the live projector resumes from the new position.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

from eventsourcing.utils import get_topic
from psycopg2.errors import LockNotAvailable
from sqlalchemy import Index, MetaData, create_engine, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from crm.cyclic_gc import cycle_collection_paused
from crm.locks import exclusive
from crm.projectors.base import Projector
from crm.projectors.engine import listener, tracking
from crm.projectors.engine.phased_replay import PhaseWorkers, can_replay_in_phases, replay_in_phases
from crm.projectors.engine.replay import SIDE, Reader, SideSession
from crm.projectors.engine.runner import ProjectionRunner

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
ANALYZE_AFTER_EVENTS = 25_000  # then each time the events replayed have doubled


class RebuildRunning(Exception):
    """Another `crm projections rebuild` is running against this database."""

    def __init__(self):
        super().__init__("another rebuild is running against this database; wait for it to finish")


class Rebuilder:
    """Rebuilds projections of a `ProjectionRunner` by build-then-swap.

    On PostgreSQL, given `runner_factory` (a picklable callable that builds a runner like
    `runner` in another process), a projection with `replay_phases` has the bulk of its log
    replayed by `workers` processes in parallel, each taking its share of the streams.
    """

    def __init__(self, runner: ProjectionRunner, batch_size: int = 5000, *, runner_factory=None, workers: int = 1):
        self.runner = runner
        self.batch_size = batch_size
        self.engine = runner.recorder.datastore.engine
        self.runner_factory = runner_factory
        self.workers = workers
        self._log_analyzed = False  # once per rebuilder: ANALYZE of a million events takes 0.2 s
        self.analyze_after_events = ANALYZE_AFTER_EVENTS

    def rebuild_all(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild the named projections (default: all); events applied per projection.

        On PostgreSQL the projections without phases are rebuilt together, first: each of
        them reads a few topics of the whole log, and one read of it serves them all. The
        processes that replay the phases of the others start meanwhile."""
        names = list(names or self.runner.projectors)
        if self.engine.dialect.name != "postgresql":
            return {name: self.rebuild(name, progress) for name in names}
        projectors = [self.runner.projectors[name] for name in names]
        phased = [projector for projector in projectors if self._phased(projector)]
        together = [projector for projector in projectors if projector not in phased]
        applied: dict[str, int] = {}
        with PhaseWorkers(self.runner_factory, self.workers) if phased else nullcontext() as workers:
            if together:
                applied.update(self._rebuild_postgres(together, progress))
            for projector in phased:
                applied.update(self._rebuild_postgres([projector], progress, workers))
        return {name: applied[name] for name in names}

    def rebuild(self, name: str, progress: Progress | None = None) -> int:
        """Rebuild one projection; return the number of events applied to it."""
        projector = self.runner.projectors[name]
        if self.engine.dialect.name == "postgresql":
            return self._rebuild_postgres([projector], progress)[name]
        side_file = Path(f"{make_url(str(self.engine.url)).database}.{SIDE}-{name}")
        side_file.unlink(missing_ok=True)
        engine = create_engine(self.engine.url, poolclass=NullPool)
        connection = engine.connect()
        connection.exec_driver_sql(f"ATTACH DATABASE '{side_file}' AS {SIDE}")
        try:
            return self._rebuild([projector], connection, progress, self._swap_sqlite)[name]
        finally:
            engine.dispose()
            for leftover in (side_file, Path(f"{side_file}-wal"), Path(f"{side_file}-shm")):
                leftover.unlink(missing_ok=True)

    def _rebuild_postgres(
        self, projectors: list[Projector], progress: Progress | None, workers: PhaseWorkers | None = None
    ) -> dict[str, int]:
        # One rebuild at a time: they would share the side schema.
        with exclusive(self.engine, "crm:rebuild") as mine:
            if not mine:
                raise RebuildRunning()
            return self._rebuild(projectors, self.engine.connect(), progress, self._swap_postgres, workers)

    # -- the three steps --------------------------------------------------------------------

    def _rebuild(
        self,
        projectors: list[Projector],
        connection: Connection,
        progress: Progress | None,
        swap,
        workers: PhaseWorkers | None = None,
    ) -> dict[str, int]:
        """Build `projectors`' tables beside the live ones, from one read of the log (or, for a
        lone projection with phases, by several processes: `workers`, else started here), then
        swap each in."""
        if progress is not None and len(projectors) > 1:  # one bar for the one read of the log
            progress = _under_one_name(progress, ", ".join(projector.name for projector in projectors))
        with connection, cycle_collection_paused():
            postgres = connection.dialect.name == "postgresql"
            self._analyze_at, self._replayed_events = (self.analyze_after_events if postgres else None), 0
            if postgres:  # the side tables are thrown away if we crash: no need to wait for each flush
                connection.execute(text("SET synchronous_commit = off"))
                if not self._log_analyzed:
                    # A log loaded faster than autovacuum analyzes it has no statistics: its
                    # windowed reads were then planned as a sort of every id in the window.
                    connection.execute(text(f'ANALYZE "{self.runner.recorder.events_table_name}"'))
                    self._log_analyzed = True
            phased = postgres and len(projectors) == 1 and self._phased(projectors[0])
            deferred = self._create_side_tables(projectors, connection, phased)
            position, applied = 0, {projector.name: 0 for projector in projectors}
            if phased:
                projector, position = projectors[0], self._head()

                def analyze():
                    self._analyze(projectors, connection)
                    connection.commit()

                with nullcontext(workers) if workers else PhaseWorkers(self.runner_factory, self.workers) as started:
                    applied[projector.name] = replay_in_phases(
                        started, projector, connection, position, self.batch_size, progress, analyze
                    )
                deferred = _create_indexes(deferred, connection)  # before the catch-up's statements
            position = self._replay_to_near_head(projectors, connection, position, progress, applied)
            _create_indexes(deferred, connection)
            if postgres:  # for the catch-up's statements, now that the indexes are there
                self._analyze(projectors, connection)
            connection.commit()
            # Close enough that the swap, which holds the live tables, has little left to apply.
            position = self._replay_to_near_head(projectors, connection, position, progress, applied, slack=200)
            if postgres:
                connection.execute(text("SET synchronous_commit = on"))
            for projector in projectors:
                applied[projector.name] += swap(projector, connection, position, progress)
            if postgres:
                connection.execute(text(f"DROP SCHEMA {SIDE}"))  # every table in it swapped in
                connection.commit()
            return applied

    def _replay_to_near_head(
        self,
        projectors: list[Projector],
        connection: Connection,
        position: int,
        progress,
        applied: dict[str, int],
        slack: int | None = None,
    ) -> int:
        """Replay up to the head, then again up to the new head, until close; the position
        reached (the events applied are added to `applied`)."""
        while True:
            head = self._head()
            if head - position <= (self.batch_size if slack is None else slack):
                return position
            position, counts = self._replay(projectors, connection, position, head, progress, commit_every_batch=True)
            for name, count in counts.items():
                applied[name] += count

    def _create_side_tables(self, projectors: list[Projector], connection: Connection, phased: bool) -> list[Index]:
        """Create empty copies of the tables; return the indexes left to build after the replay
        (`phased`: a replay in phases, `phased_replay_indexes`; else `replay_indexes`)."""
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SIDE} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {SIDE}"))
        side, deferred = MetaData(), []
        for projector in projectors:
            needed = projector.phased_replay_indexes if phased else projector.replay_indexes
            for table in projector.tables:  # same names, columns and indexes, in the side schema
                copy = table.to_metadata(side, schema=SIDE)
                later = [index for index in copy.indexes if index.name not in needed]
                copy.indexes.difference_update(later)
                copy.create(connection)
                deferred += later
        connection.commit()
        return deferred

    def _replay(
        self,
        projectors: list[Projector],
        connection: Connection,
        start: int,
        stop: int,
        progress: Progress | None,
        commit_every_batch: bool,
    ) -> tuple[int, dict[str, int]]:
        """Apply the projectors' events in (start, stop] to the side tables; return stop and the
        events applied to each.

        A reader thread reads and decodes the next batch while this one is written: the
        database works on one while Python works on the other.
        """
        position, applied = start, {projector.name: 0 for projector in projectors}
        topics = set().union(*(projector.topics for projector in projectors))
        reader = Reader(self.runner, self.batch_size, topics, start, stop)
        with SideSession(bind=connection) as session, reader as batches:
            for events, end in batches:
                for projector in projectors:
                    mine = events if len(projectors) == 1 else [e for e in events if _topic(e) in projector.topics]
                    projector.apply(mine, session)
                    applied[projector.name] += len(mine)
                if commit_every_batch:
                    session.commit()
                position = end
                if commit_every_batch:  # never inside the swap's transaction, which holds the locks
                    self._replayed(projectors, connection, len(events))
                if progress:
                    progress(projectors[0].name, position, stop)
        return position, applied

    def _swap_postgres(self, projector: Projector, connection: Connection, position: int, progress) -> int:
        live = connection.execute(text("SELECT current_schema()")).scalar_one()
        self._lock_live_tables(connection, projector, live)
        head = max(self._head(), tracking.position(connection, projector.name))
        _, applied = self._replay([projector], connection, position, head, progress, commit_every_batch=False)
        for table in projector.tables:
            connection.execute(text(f'DROP TABLE "{live}"."{table.name}"'))
            connection.execute(text(f'ALTER TABLE {SIDE}."{table.name}" SET SCHEMA "{live}"'))
        tracking.set_position(connection, projector.name, head)
        listener.announce_projected(connection, projector.name, head)
        connection.commit()
        return applied[projector.name]

    def _swap_sqlite(self, projector: Projector, connection: Connection, position: int, progress) -> int:
        tracking.hold_for_write(connection, projector.name)  # live batches wait for the swap
        head = max(self._head(), tracking.position(connection, projector.name))
        _, applied = self._replay([projector], connection, position, head, progress, commit_every_batch=False)
        for table in reversed(projector.tables):
            connection.execute(table.delete())
        for table in projector.tables:
            columns = [column.name for column in table.columns]
            source = table.to_metadata(MetaData(), schema=SIDE)
            connection.execute(table.insert().from_select(columns, select(*[source.c[c] for c in columns])))
        tracking.set_position(connection, projector.name, head)
        connection.commit()
        connection.exec_driver_sql(f"DETACH DATABASE {SIDE}")
        return applied[projector.name]

    # -- helpers -----------------------------------------------------------------------------

    def _phased(self, projector: Projector) -> bool:
        return self.runner_factory is not None and self.workers > 1 and can_replay_in_phases(projector)

    def _replayed(self, projectors: list[Projector], connection: Connection, events: int) -> None:
        """Analyze the side tables as they grow (PostgreSQL): fresh tables have no statistics,
        and a batch's lookups by id (a customer's restaurant, the totals' recount) were planned
        as scans of the whole table, each batch slower than the last. Doubling keeps the
        planner's idea of their size within a factor of two for a cost that grows with the log
        of the replay."""
        if self._analyze_at is None:
            return
        self._replayed_events += events
        if self._replayed_events >= self._analyze_at:
            self._analyze_at = 2 * self._replayed_events
            self._analyze(projectors, connection)
            connection.commit()

    @staticmethod
    def _analyze(projectors: list[Projector], connection: Connection) -> None:
        for projector in projectors:
            for table in projector.tables:
                connection.execute(text(f'ANALYZE {SIDE}."{table.name}"'))

    def _head(self) -> int:
        return self.runner.head()

    def _lock_live_tables(self, connection: Connection, projector: Projector, schema: str) -> None:
        """Take the tracking row, then every live table at once, without ever deadlocking a reader.

        A reader may hold one of the tables and want another; waiting for it could deadlock.
        So the table locks are tried with a short lock_timeout and, failing that, released and
        tried again a moment later; once our request is queued, new readers queue behind it.
        """
        tables = ", ".join(f'"{schema}"."{table.name}"' for table in projector.tables)
        for attempt in range(1, 1000):
            # On the connection itself, in its transaction (a Session here would end the
            # transaction it began when it closes, and the lock with it).
            tracking.hold_for_write(connection, projector.name)
            connection.execute(text("SET LOCAL lock_timeout = '200ms'"))
            try:
                connection.execute(text(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))
                return
            except OperationalError as error:
                if not isinstance(error.orig, LockNotAvailable):
                    raise
                connection.rollback()
                log.info("swap of %s waits for readers (attempt %d)", projector.name, attempt)
                time.sleep(min(0.05 * attempt, 1.0))
        raise RuntimeError(f"could not lock the tables of {projector.name} for the swap")


def _create_indexes(indexes: list[Index], connection: Connection) -> list[Index]:
    """Build `indexes`: cheaper once over a whole table than kept up to date row by row. None
    are left to build."""
    for index in indexes:
        index.create(connection)
    return []


def _topic(event) -> str:
    return get_topic(type(event))


def _under_one_name(progress: Progress, name: str) -> Progress:
    """`progress` told of every projection of a group under the group's `name`."""

    def report(_projection: str, position: int, stop: int) -> None:
        progress(name, position, stop)

    return report
