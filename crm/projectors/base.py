"""The projector contract: a named read model, the tables it owns, a batch apply."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cached_property

from eventsourcing.utils import get_topic
from sqlalchemy import Table
from sqlalchemy.orm import Session


class Projector:
    """Applies events to the tables it owns.

    Subclasses define `handle` as a `singledispatchmethod` with one handler per event type; other events are ignored
    (the runner still advances the position past them). `begin_batch`/`end_batch` frame a
    batch, all inside the one transaction that also advances the tracking position.
    """

    name: str
    tables: tuple[Table, ...]
    # Indexes the projector's own statements need while a rebuild replays the log; the
    # others are built once the replay is done.
    replay_indexes: frozenset[str] = frozenset()
    # Event classes whose effect does not depend on their order among other aggregates'
    # events (a new row, a sum added to, a row only their own aggregate changes): inline, a
    # command made of these alone is projected before the event store's insert lock.
    unordered_events: tuple[type, ...] = ()
    # Groups of event classes that a rebuild may replay one group after the other, each
    # group's streams in parallel processes (PostgreSQL): an event of a group writes only rows
    # of its own stream, and reads only rows that earlier groups, or earlier events of its own
    # stream, wrote. What such events would change beyond their stream (a customer's totals
    # from its visits) is left to `finish_phased_replay`. Empty: the log is replayed in order.
    replay_phases: tuple[tuple[type, ...], ...] = ()
    # Indexes the statements of those phases need; the others (`replay_indexes` too, unless
    # named here) are built once the phases are done.
    phased_replay_indexes: frozenset[str] = frozenset()
    phased = False  # this batch belongs to a phased replay

    @cached_property
    def unordered(self) -> frozenset[str]:
        """The topics of `unordered_events`."""
        return frozenset(get_topic(cls) for cls in self.unordered_events)

    @cached_property
    def topics(self) -> frozenset[str]:
        """The topics of the events this projector handles; others are skipped undecoded."""
        registry = vars(type(self))["handle"].dispatcher.registry
        return frozenset(get_topic(cls) for cls in registry if cls is not object)

    def begin_batch(self, session: Session) -> None:
        """Called at the start of each batch."""

    def handle(self, event: object, session: Session) -> None:
        """Apply one event. Subclasses make this a `singledispatchmethod` of their own."""
        raise NotImplementedError

    def end_batch(self, session: Session) -> None:
        """Called after the last event of each batch."""

    def finish_phased_replay(self, session: Session) -> None:
        """After the phases of `replay_phases`: restore what their events leave undone."""

    def apply(self, events: list, session: Session, *, phased: bool = False) -> None:
        """Apply one batch of events, framed by `begin_batch` and `end_batch` (`phased`: a
        batch of one of `replay_phases`, in a rebuild).

        Each batch runs on a copy of the projector, so that what `begin_batch` sets up is the
        batch's own: inline, commands project concurrently from several threads.
        """
        batch = copy.copy(self)
        batch.phased = phased
        batch.begin_batch(session)
        dispatch = _dispatch_of(type(self))
        if dispatch is None:  # a plain `handle`
            for event in events:
                batch.handle(event, session)
        else:
            # Each event class's handler found and bound once per batch: the dispatcher's own
            # call looks it up and binds it again for every event (a rebuild applies a million).
            handlers: dict[type, Callable] = {}
            for event in events:
                handler = handlers.get(event.__class__)
                if handler is None:
                    handler = handlers[event.__class__] = dispatch(event.__class__).__get__(batch)
                handler(event, session)
        batch.end_batch(session)


def _dispatch_of(cls: type) -> Callable[[type], Callable] | None:
    """The dispatch of the `singledispatchmethod` `handle` that `cls` uses, or None."""
    for klass in cls.__mro__:
        if "handle" in vars(klass):
            dispatcher = getattr(vars(klass)["handle"], "dispatcher", None)
            return None if dispatcher is None else dispatcher.dispatch
    return None
