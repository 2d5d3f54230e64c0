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

from crm.adapters.deferred_writes import DeferredWrites
from crm.projectors.base import Projector
from crm.projectors.engine import listener, tracking

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
IDLE_ADVANCE_SECONDS = 1.0


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class ProjectionRunner:
    """Catches projectors up with the event log: `recorder` reads it, `mapper` decodes it."""

    def __init__(self, recorder, mapper: Mapper, projectors: Iterable[Projector], batch_size: int = 500):
        self.recorder = recorder
        self.mapper = mapper
        self.projectors = {p.name: p for p in projectors}
        self.batch_size = batch_size
        self._locks = {name: threading.Lock() for name in self.projectors}
        self._datastore = recorder.datastore
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
        while this one waited for the lock).
        """
        projector = self.projectors[name]
        applied = 0
        topics = tuple(sorted(projector.topics))
        with self._locks[name]:
            while True:
                try:
                    # The tracking row, locked first (FOR UPDATE on PostgreSQL), makes a second
                    # runner in any process wait for this batch and then find the work done.
                    with self._datastore.transaction(commit=True) as session:
                        start = tracking.locked_position(session, name)
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
                        self._apply_batch(projector, start, end, notifications)
                        if not notifications:
                            self._idle_since[name] = time.monotonic()
                except LostRace:
                    time.sleep(0.001)
                    continue
                applied += len(notifications)
                self.reached_up_to([name], end)
                # Tests read these lines to prove that no two processes applied the same range.
                log.debug("%s applied (%d, %d]: %d events", name, start, end, len(notifications))
                if progress:
                    progress(name, end, head)
                if target is not None and end >= target:
                    return applied

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
                projector.apply(events, writes)
                notice = listener.projected_notice(projector.name, end) if self.announce else ""
                if not tracking.advance_after(writes, projector.name, start, end, notice):
                    raise LostRace()
                return
            if not tracking.advance(session, projector.name, start, end):
                raise LostRace()
            projector.apply(events, session)
            if self.announce and session.get_bind().dialect.name == "postgresql":  # wakes waiting readers
                listener.announce_projected(session, projector.name, end)
