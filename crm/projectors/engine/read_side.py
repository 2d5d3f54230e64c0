"""Read-your-writes, asked for explicitly: "be current up to this position for these projections".

A command returns what it recorded (its id, the notification id of its last event, its
topics). Its caller (a view, a task, the dashboard), after the command and outside every
lock, calls `wait_for(position, projections)` before it reads the projections back:

- inline mode: the command applied its own events in its transaction (see `InlineProjection`),
  so this usually has nothing left to do; otherwise this process applies them, up to `position`, now;
- background mode: `crm projector` applies them; this waits (bounded) until it has passed
  `position`.

False means the read side did not get there (inline: the catch-up failed; background: the
wait timed out). The command still stands; the caller says its answer may be stale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from crm.projectors.engine.dead_letters import ProjectionStopped
from crm.projectors.engine.lag import report_lag
from crm.projectors.engine.runner import ProjectionRunner
from crm.projectors.engine.watcher import ProjectionWatcher

log = logging.getLogger(__name__)
FIRST_LOOK_SECONDS = 0.05  # most waits end within one projector batch; a longer one reads the log
IDLE_RANGE = 10_000  # ids: a projection further behind than this is waited for, its range not read


class ReadSide:
    """The read model as a command's caller sees it: current up to a position, or not (yet)."""

    def __init__(self, runner: ProjectionRunner, watcher: ProjectionWatcher | None = None, timeout: float = 5.0):
        self.runner = runner
        self.watcher = watcher  # None: inline mode, this process applies the events
        self.timeout = timeout

    def concerned(self, topics: Iterable[str]) -> list[str]:
        """The projections a command's events (their topics) change."""
        return self.runner.concerned(topics)

    def wait_for(self, position: int, projections: Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """True once the named projections (default: all) include every event up to `position`."""
        names = list(self.runner.projectors if projections is None else projections)
        if position <= 0 or not names:
            return True
        if self.watcher is not None:
            timeout = self.timeout if timeout is None else timeout
            started = time.monotonic()
            if self.watcher.wait_for(position, names, min(timeout, FIRST_LOOK_SECONDS)):
                return True
            names = [name for name in names if self._has_work_up_to(name, position)]
            return self.watcher.wait_for(position, names, max(0.0, timeout - (time.monotonic() - started)))
        # Inline: this process's commands applied their own events in their transactions.
        names = [name for name in names if self.runner.reached.get(name, 0) < position]
        try:
            for name in names:
                self.runner.catch_up_projection(name, position)
        except ProjectionStopped as stopped:  # an event it cannot apply: kept, shown by status and /readyz
            log.warning("%s; the read model lags until it is retried", stopped)
            return False
        except Exception as error:  # the command has committed; a lagging read model must not undo its answer
            report_lag(log, error)
            return False
        return True

    def _has_work_up_to(self, name: str, position: int) -> bool:
        """Whether the log holds events of projection `name` that it has not applied, up to
        `position`. `crm projector` moves a projection past events that do not concern it at
        most once a second (`IDLE_ADVANCE_SECONDS`), so a projection can be behind a position
        with nothing to do for it: a task waiting for the whole read model after a campaign
        started waited up to a second for the customers projection to pass `Campaign.Started`."""
        reached = self.watcher.position(name)
        topics = tuple(sorted(self.runner.projectors[name].topics))
        if reached >= position:
            return False
        if position - reached > IDLE_RANGE or not topics:
            return True
        try:
            found = self.runner.recorder.select_notifications(
                reached, 1, stop=position, topics=topics, inclusive_of_start=False
            )
        except Exception:  # the database is away: wait for the projection as before
            return True
        return bool(found)

    def close(self) -> None:
        """Stop the watcher's thread, if any."""
        if self.watcher is not None:
            self.watcher.close()
