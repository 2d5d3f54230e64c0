"""The Visit aggregate: one visit of a customer, its own short stream keyed by the visit id.

A visit is recorded without replaying its customer: the stream starts at version 1, so the
event store's uniqueness of (stream, version) makes a replayed visit id a no-op, and the
customer's being there (registered, not deleted, of the caller's restaurant) is checked by the
event store under its insert lock (`StreamLive`). A visit names its customer, so a correction
or a void finds it, and its tenancy (the restaurant owning the customer), from its own two or
three events. (Visits recorded before this
aggregate existed are `Customer.VisitRecorded` events on the customer's stream.)
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import Conflict, VisitNotFound


class Visit(CrmAggregate):
    """A customer's visit and its spend; corrected or voided, never deleted."""

    # Named like the customer's own visit events, which a customer's history shows alike.
    class VisitRecorded(CrmAggregate.Created):
        customer_id: UUID
        spend_cents: int
        visited_at: datetime

        def apply(self, visit: Visit) -> None:
            visit.customer_id = self.customer_id
            visit.spend_cents = self.spend_cents
            visit.visited_at = self.visited_at
            visit.voided = False

    class VisitCorrected(CrmAggregate.Event):
        customer_id: UUID
        spend_cents: int
        visited_at: datetime

        def apply(self, visit: Visit) -> None:
            visit.spend_cents = self.spend_cents
            visit.visited_at = self.visited_at

    class VisitVoided(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, visit: Visit) -> None:
            visit.voided = True

    @classmethod
    def record(
        cls,
        id: UUID,
        customer_id: UUID,
        spend_cents: int,
        visited_at: datetime,
        actor: str,
        at: datetime,
    ) -> Visit:
        return cls._create(
            cls.VisitRecorded,
            id=id,
            customer_id=customer_id,
            spend_cents=spend_cents,
            visited_at=visited_at,
            actor=actor,
            timestamp=at,
        )

    def correct(self, spend_cents: int, visited_at: datetime, actor: str, at: datetime) -> None:
        self.require_counted()
        if (spend_cents, visited_at) != (self.spend_cents, self.visited_at):
            self.trigger_event(
                self.VisitCorrected,
                customer_id=self.customer_id,
                spend_cents=spend_cents,
                visited_at=visited_at,
                actor=actor,
                timestamp=at,
            )

    def void(self, actor: str, at: datetime) -> None:
        self.require_counted()
        self.trigger_event(self.VisitVoided, customer_id=self.customer_id, actor=actor, timestamp=at)

    def require_counted(self) -> None:
        if self.voided:
            raise VisitNotFound(self.id)

    def require_replay_of(self, customer_id: UUID) -> None:
        """A visit id recorded again must name the same customer and still count."""
        if self.voided:
            raise Conflict(f"visit {self.id} was recorded and has since been voided")
        if self.customer_id != customer_id:
            raise Conflict(f"visit {self.id} was recorded for another customer")
