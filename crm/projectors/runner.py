"""Drives projectors from their tracked position to the head of the log.

Each batch is one transaction that first locks the projection's tracking row (FOR UPDATE on
PostgreSQL), reads the head (inline: the id of the command's own last event), reads the events
of the topics the projector handles up to it, applies them and advances the position by
compare-and-set: a second runner, in this process or another, waits for the batch and then
finds the work done. Web processes catch up inline after each command (read-your-writes);
worker processes in the background (ProjectionPump).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from eventsourcing.persistence import Notification
from sqlalchemy import func, select, text

from crm.projectors import tracking
from crm.projectors.base import Projector
from crm.write_model.application import CrmApplication

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


WINDOW = 4  # a read covers at most WINDOW x batch size notification ids


def read_window(recorder, start: int, stop: int, limit: int, topics: tuple[str, ...]) -> tuple[list[Notification], int]:
    """Up to `limit` events of `topics` after `start`, and the position they bring the reader to.

    The id range read is bounded (at most WINDOW x `limit` ids past `start`), so a reader far
    behind, or one whose topics are rare, never asks for a sort of the whole rest of the log
    (which a planner with stale statistics does, at a second a query on a million events).
    """
    window_end = min(stop, start + WINDOW * limit)
    notifications = recorder.select_notifications(
        start, limit, stop=window_end, topics=topics, inclusive_of_start=False
    )
    end = notifications[-1].id if len(notifications) == limit else window_end
    return notifications, end


class LostRace(Exception):
    """Another runner advanced this projection first; the batch was rolled back."""


class ProjectionRunner:
    """Catches projectors up with the event log of one application."""

    def __init__(self, app: CrmApplication, projectors: Iterable[Projector], batch_size: int = 500):
        self.app = app
        self.projectors = {p.name: p for p in projectors}
        self.batch_size = batch_size
        self._locks = {name: threading.Lock() for name in self.projectors}
        self._datastore = app.factory.datastore
        self._local = threading.local()
        self._idle_since: dict[str, float] = {}
        # NOTIFY `crm_projected` after each batch, for processes waiting on another process's
        # projection (background mode); an inline runner's own process needs no message.
        self.announce = False

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def event_count(self) -> int:
        table = self.app.recorder.events_record_cls.__table__
        with self._datastore.transaction(commit=False) as session:
            return session.execute(select(func.count()).select_from(table)).scalar_one()

    def catch_up(self, target: int | None = None, progress: Progress | None = None) -> int:
        """Apply every new event to every projection; return how many events were applied.

        With `target`, a projection already at or past it is left alone (another request
        caught it up while this one waited for the lock).
        """
        applied = 0
        for name in self.projectors:
            applied += self._catch_up_one(name, target, progress)
        return applied

    def on_saved(self, position: int, topics: set[str]) -> None:
        """Observer for `CrmApplication.saved_observers`: inline read-your-writes.

        Only the projections that handle one of the saved events' topics catch up now; the
        others have nothing to show for this command and catch up with a later one.
        """
        try:
            for name, projector in self.projectors.items():
                if projector.topics & topics:
                    self._catch_up_one(name, position, None)
        except Exception:  # the command has committed; a lagging read model must not undo its answer
            log.exception("inline projection failed; the read model lags until the next catch-up")
            self._local.lagging = True

    def take_lag_flag(self) -> bool:
        """True once if an inline catch-up in this thread failed since the last call."""
        lagging = getattr(self._local, "lagging", False)
        self._local.lagging = False
        return lagging

    def rebuild(self, names: Iterable[str] | None = None, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild projections into fresh tables and swap them in; events applied per projection."""
        from crm.projectors.rebuild import Rebuilder

        rebuilder = Rebuilder(self)
        return {name: rebuilder.rebuild(name, progress) for name in (names or self.projectors)}

    def follow(self, name: str, idle_advance_seconds: float = 1.0) -> int:
        """Apply `name`'s new events (for `crm projector`); events applied.

        When none of the new events concern the projection, its position moves past them at
        most every `idle_advance_seconds`, not on every wake: one write a second instead of one
        per command.
        """
        lazy = time.monotonic() - self._idle_since.get(name, 0.0) < idle_advance_seconds
        return self._catch_up_one(name, None, None, skip_idle=lazy)

    def _catch_up_one(self, name: str, target: int | None, progress: Progress | None, skip_idle: bool = False) -> int:
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
                            return applied
                        # Every id up to the head read first (or up to `target`, the id of a
                        # committed event) is committed or never will be: inserts lock the table
                        # and commit in id order. So once the events of interest up to it are
                        # read, the position may jump to it: gaps are passed, never waited for.
                        head = target if target is not None else self.head()
                        if head <= start:
                            return applied
                        notifications, end = read_window(self.app.recorder, start, head, self.batch_size, topics)
                        if skip_idle and not notifications and end == head:
                            return applied
                        self._apply_batch(projector, start, end, notifications)
                        if not notifications:
                            self._idle_since[name] = time.monotonic()
                except LostRace:
                    time.sleep(0.001)
                    continue
                applied += len(notifications)
                # Tests read these lines to prove that no two processes applied the same range.
                log.debug("%s applied (%d, %d]: %d events", name, start, end, len(notifications))
                if progress:
                    progress(name, end, head)
                if target is not None and end >= target:
                    return applied

    def _apply_batch(self, projector: Projector, start: int, end: int, notifications: list[Notification]) -> None:
        self.app.mapper.preload_keys(notifications)
        events = [self.app.mapper.to_domain_event(n) for n in notifications]
        with self._datastore.transaction(commit=True) as session:
            if not tracking.advance(session, projector.name, start, end):
                raise LostRace()
            projector.begin_batch(session)
            handle = projector.handle  # one dispatcher per batch, not one per event
            for event in events:
                handle(event, session)
            projector.end_batch(session)
            if self.announce and session.get_bind().dialect.name == "postgresql":  # wakes waiting readers
                session.execute(text("SELECT pg_notify('crm_projected', :p)"), {"p": f"{projector.name}:{end}"})


class ProjectionPump:
    """Catches the projections up in a background thread after saves, without making the saver
    wait: for worker processes, whose commands need no read-your-writes."""

    def __init__(self, runner: ProjectionRunner):
        self.runner = runner
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._topics: set[str] = set()
        threading.Thread(target=self._run, name="projection-pump", daemon=True).start()

    def on_saved(self, position: int, topics: set[str]) -> None:
        with self._guard:
            self._topics |= topics
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._guard:
                topics, self._topics = self._topics, set()
            try:
                for name, projector in self.runner.projectors.items():
                    if projector.topics & topics:  # the others have nothing new to show
                        self.runner._catch_up_one(name, None, None)
            except Exception:
                log.exception("background catch-up failed; retrying")
                time.sleep(1)
                with self._guard:
                    self._topics |= topics
                self._wake.set()
