"""The aggregate base class shared by every aggregate of the CRM."""

from __future__ import annotations

from eventsourcing.domain import Aggregate


class CrmAggregate(Aggregate):
    """An aggregate whose every event records the actor who caused it."""

    class Event(Aggregate.Event):
        actor: str
        personal_data = False  # True: the mapper encrypts it with the aggregate's own key

    class Created(Event, Aggregate.Created):
        pass
