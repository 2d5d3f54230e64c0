"""Visit commands: record, correct and void a customer's visits.

A visit is its own stream (`Visit`), recorded without reading anything first: that its
customer is there (and, for a restaurant's key, theirs) is checked by the event store under its
insert lock. Visits recorded before visits had
their own streams live on the customer's stream, and are corrected and voided there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from crm.write_model import validation
from crm.write_model.commands import CUSTOMER_LIVE, Clock, Commands, Recorded, StreamLive, utc_now
from crm.write_model.errors import CustomerNotFound, StreamNotLive, VisitNotFound
from crm.write_model.visits import Visit

# Which customer holds a visit recorded on the customer's own stream (None: no such visit): a
# port the wiring provides, for visits recorded before visits had their own streams.
VisitLocator = Callable[[UUID], "UUID | None"]


class VisitCommands(Commands):
    """Commands on visits; older visits are found through the `VisitLocator` given at construction."""

    def __init__(
        self, env: dict[str, str], *, visit_locator: VisitLocator, clock: Clock = utc_now, command_retries: int = 30
    ):
        self.visit_locator = visit_locator
        super().__init__(env, clock=clock, command_retries=command_retries)

    # -- visits -------------------------------------------------------------------------

    def record_visit(
        self,
        customer_id: UUID,
        spend_cents: int,
        visited_at: datetime | None = None,
        *,
        actor: str,
        scope: UUID | None,
        visit_id: UUID | None = None,
    ) -> Recorded:
        """Record a visit (its id is the Recorded's); an already recorded `visit_id` changes nothing."""
        spend_cents = validation.spend_cents(spend_cents)
        now = self.clock()
        visited_at = now if visited_at is None else validation.visit_time(visited_at, now)
        replayable = visit_id is not None  # a fresh id cannot have been recorded before
        visit_id = visit_id or uuid4()

        def attempt() -> Recorded:
            visit = Visit.record(visit_id, customer_id, spend_cents, visited_at, actor, self.clock())
            try:
                return self._save_visit(visit, scope, owners={visit_id: customer_id})
            except IntegrityError:
                if not replayable:
                    raise
                recorded = self._visit_or_none(visit_id)
                if recorded is None:
                    raise
                recorded.require_replay_of(customer_id)
                return self._unchanged(visit_id, Visit)

        return self._run(attempt)

    def correct_visit(
        self,
        visit_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        spend_cents: int | None = None,
        visited_at: datetime | None = None,
    ) -> Recorded:
        """Correct a visit's spend and/or time (None keeps the current value)."""
        spend_cents = None if spend_cents is None else validation.spend_cents(spend_cents)
        visited_at = None if visited_at is None else validation.visit_time(visited_at, self.clock())

        def attempt() -> Recorded:
            visit = self._visit(visit_id, scope)
            if visit is None:
                return self._on_customer_stream(visit_id, scope, "correct", spend_cents, visited_at, actor)
            visit.correct(
                visit.spend_cents if spend_cents is None else spend_cents,
                visit.visited_at if visited_at is None else visited_at,
                actor,
                self.clock(),
            )
            return self._save_visit(visit, scope)

        return self._run(attempt, visit_id)

    def void_visit(self, visit_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Void a visit: it no longer counts towards the customer's totals."""

        def attempt() -> Recorded:
            visit = self._visit(visit_id, scope)
            if visit is None:
                return self._on_customer_stream(visit_id, scope, "void", None, None, actor)
            visit.void(actor, self.clock())
            return self._save_visit(visit, scope)

        return self._run(attempt, visit_id)

    # -- helpers ------------------------------------------------------------------------

    def _save_visit(self, visit: Visit, scope: UUID | None, **options) -> Recorded:
        """Save the visit's new events, provided its customer is still there, in `scope`."""
        customer_live = StreamLive(visit.customer_id, CUSTOMER_LIVE, owner=scope)
        try:
            return self._save_recorded(visit.id, visit, conditions=[customer_live], **options)
        except StreamNotLive:
            if visit.version == 1:
                raise CustomerNotFound(visit.customer_id) from None
            raise VisitNotFound(visit.id) from None

    def _visit_or_none(self, visit_id: UUID) -> Visit | None:
        try:
            visit = self.repository.get(visit_id)
        except AggregateNotFoundError:
            return None
        return visit if isinstance(visit, Visit) else None

    def _visit(self, visit_id: UUID, scope: UUID | None) -> Visit | None:
        """The visit's own stream (None: no such stream); VisitNotFound if its customer is gone
        or outside `scope` (checked again, under the lock, when a change is saved)."""
        visit = self._visit_or_none(visit_id)
        if visit is not None and not self.recorder.holds(StreamLive(visit.customer_id, CUSTOMER_LIVE, owner=scope)):
            raise VisitNotFound(visit_id)
        return visit

    def _on_customer_stream(
        self,
        visit_id: UUID,
        scope: UUID | None,
        change: str,
        spend_cents: int | None,
        visited_at: datetime | None,
        actor: str,
    ) -> Recorded:
        """Correct or void a visit recorded as an event of its customer's stream."""
        customer_id = self.visit_locator(visit_id)
        if customer_id is None:
            raise VisitNotFound(visit_id)
        try:
            customer = self._customer(customer_id, scope)
        except CustomerNotFound:
            raise VisitNotFound(visit_id) from None
        visit = customer.visit(visit_id)
        if change == "void":
            customer.void_visit(visit_id, actor, self.clock())
        else:
            customer.correct_visit(
                visit_id,
                visit["spend_cents"] if spend_cents is None else spend_cents,
                visit["visited_at"] if visited_at is None else visited_at,
                actor,
                self.clock(),
            )
        return self._save_recorded(visit_id, customer)
