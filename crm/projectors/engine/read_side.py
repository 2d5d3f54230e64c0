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
from collections.abc import Iterable

from crm.projectors.engine.dead_letters import ProjectionStopped
from crm.projectors.engine.runner import ProjectionRunner
from crm.projectors.engine.watcher import ProjectionWatcher

log = logging.getLogger(__name__)


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
            return self.watcher.wait_for(position, names, self.timeout if timeout is None else timeout)
        # Inline: this process's commands applied their own events in their transactions.
        names = [name for name in names if self.runner.reached.get(name, 0) < position]
        try:
            for name in names:
                self.runner.catch_up_projection(name, position)
        except ProjectionStopped as stopped:  # an event it cannot apply: kept, shown by status and /readyz
            log.warning("%s; the read model lags until it is retried", stopped)
            return False
        except Exception:  # the command has committed; a lagging read model must not undo its answer
            log.exception("inline projection failed; the read model lags until the next catch-up")
            return False
        return True

    def close(self) -> None:
        """Stop the watcher's thread, if any."""
        if self.watcher is not None:
            self.watcher.close()
