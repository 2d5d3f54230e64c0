"""Inline projection in the command's own transaction: the events it inserts, applied from memory.

In inline mode the event store calls this right after a command's INSERT, inside the same
transaction and under the events table lock. Every projection the events concern is brought
up to the command's last event there and then: its tracking row locked, any earlier events it
had not applied yet read from the log and applied, then the command's own events applied as
they are in memory (no read-back, no second decryption), and the position advanced. One
commit makes the events and their projections durable together; the caller's read-your-writes
wait then finds the work done without a statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.utils import get_topic
from sqlalchemy.orm import Session

from crm.projectors.engine import tracking
from crm.projectors.engine.lag import report_lag
from crm.projectors.engine.runner import ProjectionRunner

log = logging.getLogger(__name__)


@dataclass
class BeforeLock:
    """A command's projection done before the insert lock: `apply` its events to the read
    tables, then the event store advances `tracking` (name, topics) under the lock if nothing
    else of those topics is missing, and calls `committed(last id)` after the commit."""

    runner: ProjectionRunner
    events: Sequence[object]
    names: list[str]

    @property
    def tracking(self) -> list[tuple[str, frozenset[str]]]:
        return [(name, self.runner.projectors[name].topics) for name in self.names]

    def apply(self, session: Session) -> None:
        for name in self.names:
            projector = self.runner.projectors[name]
            projector.apply([e for e in self.events if get_topic(type(e)) in projector.topics], session)

    def committed(self, last: int) -> None:
        self.runner.reached_up_to(self.names, last)


class InlineProjection:
    """The event store's hooks in inline mode (see `CoreApplicationRecorder`).

    Events whose projection does not depend on their order among other commands' (a new row, a
    sum added to, a row of the same aggregate, whose versions already serialise its commands)
    are applied before the insert lock (`before_lock`); the others after the insert, under the
    lock, in notification order (`__call__`).
    """

    def __init__(self, runner: ProjectionRunner):
        self.runner = runner

    def before_lock(self, events: Sequence[object]) -> BeforeLock | None:
        """How to project `events` before the lock, or None if they must wait for it."""
        topics = {get_topic(type(event)) for event in events}
        names = sorted(self.runner.concerned(topics))
        for name in names:
            projector = self.runner.projectors[name]
            if not (topics & projector.topics) <= projector.unordered:
                return None
        return BeforeLock(self.runner, events, names) if names else None

    def __call__(self, session: Session, events: Sequence[object], ids: Sequence[int]) -> Callable[[], None] | None:
        """Apply `events` (inserted with notification `ids`) in `session`; return what to do once
        the transaction has committed (tell the runner how far the projections have got)."""
        topics = {get_topic(type(event)) for event in events}
        names = sorted(self.runner.concerned(topics))  # one order everywhere: no lock cycles
        if not names:
            return None
        first, last = min(ids), max(ids)
        try:
            # A savepoint: a projection that fails leaves the command's events to commit, and the
            # read side behind them (the caller's wait then tries again, and reports lag).
            with session.begin_nested():
                for name in names:
                    self._project(session, name, events, first, last)
        except Exception as error:
            report_lag(log, error)
            return None
        return lambda: self.runner.reached_up_to(names, last)

    def _project(self, session: Session, name: str, events: Sequence[object], first: int, last: int) -> None:
        projector = self.runner.projectors[name]
        start = tracking.locked_position(session, name)
        if start >= last:  # a catch-up elsewhere cannot pass an uncommitted event; defensive
            return
        if start < first - 1:  # events before this command's that the projection lacks
            self.runner.apply_range(projector, session, start, first - 1)
        projector.apply([e for e in events if get_topic(type(e)) in projector.topics], session)
        tracking.set_position(session, name, last)
