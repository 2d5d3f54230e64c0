"""`crm projector`: keeps every read table current, one active instance per projection.

Each projection is leased with a session-level PostgreSQL advisory lock held by a dedicated
connection, so it is released the moment its holder dies (kill -9 included) and a standby
`crm projector` takes it over at its next try (every `standby_seconds`). The active
instance wakes on LISTEN/NOTIFY (the event store notifies at every commit), and otherwise
once a second, when it checks its leases; on SQLite it polls, and a file lock beside the
database plays the advisory lock.

Leases are an efficiency, not the safety net: every batch still locks its tracking row and
advances it by compare-and-set, so even two instances that both believed they were active
(a lease connection cut mid-batch) would never apply an event twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from sqlalchemy.engine import Engine

from crm.adapters.availability import database_unavailable
from crm.projectors.engine.dead_letters import ProjectionStopped
from crm.projectors.engine.leases import Leases
from crm.projectors.engine.listener import events_listener
from crm.projectors.engine.runner import ProjectionRunner

log = logging.getLogger(__name__)


class ProjectorDaemon:
    """Follows the event store and applies new events to the projections it holds."""

    def __init__(
        self,
        runner: ProjectionRunner,
        names: Iterable[str] | None = None,
        poll_seconds: float = 0.2,
        standby_seconds: float = 1.0,
        min_wake_seconds: float = 0.0,
    ):
        self.runner = runner
        runner.announce = True  # web processes wait for these batches
        self.names = list(names or runner.projectors)
        self.poll_seconds = poll_seconds
        self.standby_seconds = standby_seconds
        # At most one look at the log per this many seconds, however many commits notify: for a
        # safety net behind inline projection, which has nothing to do after most commits.
        self.min_wake_seconds = min_wake_seconds
        self.stop_event = threading.Event()
        self.engine: Engine = runner.recorder.datastore.engine
        self.leases: Leases | None = None  # the current ones, for `held`
        self._stopped: dict[str, int] = {}  # projections stopped before an event, as last reported

    def run(self) -> None:
        """Follow until `stop()`; after any database error, drop everything and start again."""
        while not self.stop_event.is_set():
            self.leases = leases = Leases(self.engine, self.names)
            try:
                self._follow(leases)
            except Exception as error:
                if database_unavailable(error):  # expected while the database restarts: no traceback
                    log.warning("projector lost its database connection (%s); reconnecting", type(error).__name__)
                else:
                    log.warning("projector failed; starting again", exc_info=True)
                self.stop_event.wait(1.0)
            finally:
                if leases.held:
                    log.info("projector released %s", ", ".join(sorted(leases.held)))
                leases.release()

    def stop(self) -> None:
        self.stop_event.set()

    def _follow(self, leases: Leases) -> None:
        listener = events_listener(self.engine, "crm-projector")
        try:
            next_try = 0.0
            while not self.stop_event.is_set():
                if time.monotonic() >= next_try:
                    leases.check()
                    taken = leases.acquire()
                    if taken:
                        log.info("projector active for %s", ", ".join(sorted(taken)))
                    elif not leases.held:
                        log.debug("projector standing by")
                    next_try = time.monotonic() + self.standby_seconds
                looked = time.monotonic()
                names, head = self._concerned(leases.held)
                for name in names:
                    try:
                        self.runner.follow(name, head)
                    except ProjectionStopped as stopped:  # the others go on; this one waits for a retry
                        if self._stopped.get(name) != stopped.position:
                            log.error("%s; the others go on (crm projections status, then retry)", stopped)
                            self._stopped[name] = stopped.position
                self._wait(listener, next_try)
                rest = self.min_wake_seconds - (time.monotonic() - looked)
                if rest > 0:
                    self.stop_event.wait(rest)
        finally:
            if listener is not None:
                listener.close()

    def _concerned(self, held: set[str]) -> tuple[list[str], int | None]:
        """The held projections that new events concern, or that are due to move past others,
        and the head of the log they are to follow up to (None: each reads it).

        One query for all of them (the head, and the topics since the least advanced), instead
        of one locked transaction per projection at every wake: most commands concern one
        projection.
        """
        names = [name for name in self.names if name in held]
        known = [self.runner.reached.get(name) for name in names]
        if not names or None in known:  # first wake: each one reads its own position
            return names, None
        start = min(known)
        head, topics = self.runner.recorder.head_and_topics_after(start)
        if head <= start:
            return [], head
        return [
            name
            for name in names
            if self.runner.reached[name] < head
            and (self.runner.projectors[name].topics & topics or self.runner.idle_advance_due(name))
        ], head

    def _wait(self, listener, next_try: float) -> None:
        """Until something commits (a notification), or the leases' next check; on SQLite, a poll."""
        if listener is None:
            self.stop_event.wait(self.poll_seconds)
        else:  # an idle projector reads the log's head once a second, not at every poll interval
            listener.wait(max(self.poll_seconds, next_try - time.monotonic()))
