"""Visit commands: record, correct and void a customer's visits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from crm.write_model import validation
from crm.write_model.commands import Clock, Commands, Recorded, utc_now
from crm.write_model.customers import Customer
from crm.write_model.errors import CustomerNotFound, VisitNotFound

# Which customer holds a visit (None: no such visit): a port the wiring provides.
VisitLocator = Callable[[UUID], "UUID | None"]


class VisitCommands(Commands):
    """Commands on visits; a visit is found through the `VisitLocator` given at construction."""

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
        visit_id = visit_id or uuid4()

        def attempt() -> Recorded:
            customer = self._customer(customer_id, scope)
            customer.record_visit(visit_id, spend_cents, visited_at, actor, self.clock())
            return self._save_recorded(visit_id, customer)

        return self._run(attempt, customer_id)

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
        customer_id = self._customer_of_visit(visit_id)

        def attempt() -> Recorded:
            customer = self._visit_holder(customer_id, visit_id, scope)
            visit = customer.visit(visit_id)
            customer.correct_visit(
                visit_id,
                visit["spend_cents"] if spend_cents is None else spend_cents,
                visit["visited_at"] if visited_at is None else visited_at,
                actor,
                self.clock(),
            )
            return self._save_recorded(visit_id, customer)

        return self._run(attempt, customer_id)

    def void_visit(self, visit_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Void a visit: it no longer counts towards the customer's totals."""
        customer_id = self._customer_of_visit(visit_id)

        def attempt() -> Recorded:
            customer = self._visit_holder(customer_id, visit_id, scope)
            customer.void_visit(visit_id, actor, self.clock())
            return self._save_recorded(visit_id, customer)

        return self._run(attempt, customer_id)

    def _customer_of_visit(self, visit_id: UUID) -> UUID:
        customer_id = self.visit_locator(visit_id)
        if customer_id is None:
            raise VisitNotFound(visit_id)
        return customer_id

    def _visit_holder(self, customer_id: UUID, visit_id: UUID, scope: UUID | None) -> Customer:
        try:
            customer = self._customer(customer_id, scope)
        except CustomerNotFound:
            raise VisitNotFound(visit_id) from None
        customer.visit(visit_id)
        return customer
