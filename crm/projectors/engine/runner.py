"""Drives projectors from their tracked position to a target (or the head of the log).

Each batch is one transaction that first locks the projection's tracking row (FOR UPDATE on
PostgreSQL), reads the events of the topics the projector handles up to the target, applies
them and advances the position by compare-and-set: a second runner, in this process or
another, waits for the batch and then finds the work done.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from eventsourcing.persistence import Mapper, Notification

from crm.adapters.availability import database_unavailable
from crm.adapters.deferred_writes import DeferredWrites
from crm.adapters.prepared_statements import lost
from crm.projectors.base import Projector
from crm.projectors.engine import dead_letters, listener, tracking
from crm.projectors.engine.dead_letters import ProjectionStopped

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
IDLE_ADVANCE_SECONDS = 1.0


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class ProjectionRunner:
    """Catches projectors up with the event log: `recorder` reads it, `mapper` decodes it."""

    def __init__(
        self, recorder, mapper: Mapper, projectors: Iterable[Projector], batch_size: int = 500, on_error: str = "stop"
    ):
        self.recorder = recorder
        self.on_error = on_error  # an event a projection cannot apply: "stop" before it, or "skip" it
        self.mapper = mapper
        self.projectors = {p.name: p for p in projectors}
        self.batch_size = batch_size
        self._locks = {name: threading.Lock() for name in self.projectors}
        self._datastore = recorder.datastore
        self._engine = recorder.datastore.engine
        self._idle_since: dict[str, float] = {}
        # How far each projection is known to be committed, as this process last saw it
        # (positions never move backwards): a read-your-writes wait already satisfied costs
        # no statement.
        self.reached: dict[str, int] = {}
        # NOTIFY after each batch, for processes waiting on another process's projection
        # (background mode); an inline runner's own process needs no message.
        self.announce = False

    def head(self) -> int:
        return self.recorder.head()

    def reached_up_to(self, names: Iterable[str], position: int) -> None:
        """Note that the projections `names` have committed every event up to `position`."""
        for name in names:
            if self.reached.get(name, 0) < position:
                self.reached[name] = position

    def concerned(self, topics: Iterable[str]) -> list[str]:
        """The projections that handle at least one of `topics`."""
        topics = set(topics)
        return [name for name, projector in self.projectors.items() if projector.topics & topics]

    def catch_up(self, target: int | None = None, progress: Progress | None = None) -> int:
        """Bring every projection up to `target` (default: the head); return the events applied."""
        return sum(self.catch_up_projection(name, target, progress) for name in self.projectors)

    def follow(self, name: str, head: int | None = None) -> int:
        """Apply `name`'s new events up to `head` (the head of the log the caller just read;
        default: read it) for `crm projector`; events applied.

        When none of the new events concern the projection, its position moves past them at
        most every `IDLE_ADVANCE_SECONDS`, not on every wake: one write a second instead of one
        per command.
        """
        return self.catch_up_projection(name, head, None, skip_idle=not self.idle_advance_due(name))

    def idle_advance_due(self, name: str) -> bool:
        """Whether `name` may now move past events that do not concern it."""
        return time.monotonic() - self._idle_since.get(name, 0.0) >= IDLE_ADVANCE_SECONDS

    def catch_up_projection(
        self, name: str, target: int | None = None, progress: Progress | None = None, *, skip_idle: bool = False
    ) -> int:
        """Bring projection `name` up to `target` (default: the head); return the events applied.

        A projection already at or past `target` is left alone (another caller caught it up
        while this one waited for the lock). An event it cannot apply is kept as a dead letter;
        then, as `on_error` says, the projection stops before it (`ProjectionStopped`, and it
        stays stopped until `crm projections retry`) or skips it.
        """
        projector = self.projectors[name]
        applied = 0
        topics = tuple(sorted(projector.topics))
        with self._locks[name]:
            while True:
                notifications: list[Notification] | None = None
                try:
                    # The tracking row, locked first (FOR UPDATE on PostgreSQL), makes a second
                    # runner in any process wait for this batch and then find the work done.
                    with self._datastore.transaction(commit=True) as session:
                        start, stopped = tracking.locked_position_and_stop(session, name)
                        if target is not None and start >= target:
                            self.reached_up_to([name], start)
                            return applied
                        # Every id up to the head read first (or up to `target`, the id of a
                        # committed event) is committed or never will be: see read_window.
                        head = target if target is not None else self.head()
                        if head <= start:
                            self.reached_up_to([name], start)
                            return applied
                        notifications, end = self.recorder.read_window(start, head, self.batch_size, topics)
                        if skip_idle and not notifications and end == head:
                            self.reached_up_to([name], start)
                            return applied
                        if notifications and stopped and self.on_error == "stop":
                            raise ProjectionStopped(name, start)
                        self._apply_batch(projector, start, end, notifications)
                        if not notifications:
                            self._idle_since[name] = time.monotonic()
                except LostRace:
                    time.sleep(0.001)
                    continue
                except ProjectionStopped:
                    raise
                except Exception as error:
                    if not notifications or database_unavailable(error):
                        raise
                    # One of the batch's events cannot be applied (the batch was rolled back):
                    # find it, keep it, and stop before it or skip it.
                    try:
                        self._apply_one_by_one(projector, start, end, notifications)
                    except LostRace:
                        continue
                applied += len(notifications)
                self.reached_up_to([name], end)
                # Tests read these lines to prove that no two processes applied the same range.
                log.debug("%s applied (%d, %d]: %d events", name, start, end, len(notifications))
                if progress:
                    progress(name, end, head)
                if target is not None and end >= target:
                    return applied

    def _apply_one_by_one(self, projector: Projector, start: int, end: int, notifications: list[Notification]) -> None:
        """Apply the batch an event at a time, each with its move of the position; an event that
        fails is kept as a dead letter, then stopped before (`ProjectionStopped`) or skipped."""
        position = start
        for notification in notifications:
            try:
                with self._datastore.transaction(commit=True) as session:
                    tracking.locked_position(session, projector.name)
                    self._apply_batch(projector, position, notification.id, [notification])
            except (LostRace, ProjectionStopped):
                raise
            except Exception as error:
                if database_unavailable(error):
                    raise
                dead_letters.record(self._engine, projector.name, notification, error)
                log.error(
                    "projection %s cannot apply event %d (%s): %s",
                    projector.name,
                    notification.id,
                    notification.topic,
                    dead_letters.describe(error),
                )
                if self.on_error == "stop":
                    raise ProjectionStopped(projector.name, position) from None
                with self._datastore.transaction(commit=True) as session:  # skip it
                    tracking.locked_position(session, projector.name)
                    self._apply_batch(projector, position, notification.id, [])
            position = notification.id
        if position < end:
            with self._datastore.transaction(commit=True) as session:
                tracking.locked_position(session, projector.name)
                self._apply_batch(projector, position, end, [])

    def retry(self, name: str) -> dict[str, int]:
        """`crm projections retry NAME`: the events `name` could not apply, tried again (after a
        fix). One it stopped before is released, and applied by the next catch-up; one it
        skipped is applied now, out of order. Still failing: kept, with the new error."""
        projector = self.projectors[name]
        letters = dead_letters.unresolved(self._engine).get(name, [])
        with self._datastore.transaction(commit=False) as session:
            position = tracking.locked_position(session, name)
        ahead = [letter["position"] for letter in letters if letter["position"] > position]
        dead_letters.resolve(self._engine, name, ahead)
        applied = failed = 0
        for letter in letters:
            if letter["position"] > position:
                continue
            [notification] = self.recorder.select_notifications(letter["position"], 1)
            try:
                with self._datastore.transaction(commit=True) as session:
                    projector.apply(self.decode([notification]), session)
            except Exception as error:
                if database_unavailable(error):
                    raise
                dead_letters.record(self._engine, name, notification, error)
                failed += 1
            else:
                dead_letters.resolve(self._engine, name, [letter["position"]])
                applied += 1
        return {"released": len(ahead), "applied": applied, "failed": failed}

    def decode(self, notifications: list[Notification]) -> list:
        """The domain events of `notifications` (their personal-data keys fetched in one query)."""
        self.mapper.preload_keys(notifications)
        return [self.mapper.to_domain_event(n) for n in notifications]

    def apply_range(self, projector: Projector, session, start: int, stop: int) -> None:
        """Apply `projector`'s events with ids in (start, stop] in `session` (no tracking update)."""
        topics = tuple(sorted(projector.topics))
        while start < stop:
            notifications, start = self.recorder.read_window(start, stop, self.batch_size, topics)
            if notifications:
                projector.apply(self.decode(notifications), session)

    def _apply_batch(self, projector: Projector, start: int, end: int, notifications: list[Notification]) -> None:
        events = self.decode(notifications)
        with self._datastore.transaction(commit=True) as session:
            if start and session.get_bind().dialect.name == "postgresql":
                # The batch's writes, its notice and the move of its position in one round trip.
                writes = DeferredWrites(session.connection())
                try:
                    projector.apply(events, writes)
                    notice = listener.projected_notice(projector.name, end) if self.announce else ""
                    moved = tracking.advance_after(writes, projector.name, start, end, notice)
                except Exception as error:
                    if lost(error):  # not the events' fault: tried again on a new connection
                        session.connection().invalidate()
                    raise
                if not moved:
                    raise LostRace()
                return
            if not tracking.advance(session, projector.name, start, end):
                raise LostRace()
            projector.apply(events, session)
            if self.announce and session.get_bind().dialect.name == "postgresql":  # wakes waiting readers
                listener.announce_projected(session, projector.name, end)
