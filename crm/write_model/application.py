"""The CRM application: one method per command, plus event-sourced reads of one customer."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from typing import TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from crm.write_model import history, validation
from crm.write_model.campaigning import Campaigning
from crm.write_model.campaigns import Campaign
from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.customer_rolls import CustomerRoll, roll_id_for, roll_ids
from crm.write_model.customers import Customer
from crm.write_model.errors import (
    ConcurrencyConflict,
    CustomerNotFound,
    InvalidInput,
    ReplayOfDeleted,
    RestaurantNotFound,
    VisitNotFound,
)
from crm.write_model.personal_data import KeyStore, PersonalDataMapper
from crm.write_model.restaurants import Restaurant

T = TypeVar("T")
Clock = Callable[[], datetime]
VisitLocator = Callable[[UUID], "UUID | None"]
_STRIPES = 64


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CrmApplication(Campaigning, Application):
    """Commands for restaurants, customers and visits.

    `scope` is the caller's restaurant id (None for an admin): an aggregate of another
    restaurant is reported as not found. `actor` is recorded on every event.
    """

    name = "crm"
    snapshotting_intervals = {Restaurant: 50, Customer: 50, CustomerRoll: 50, Campaign: 50}

    def __init__(
        self,
        env: dict[str, str],
        *,
        secret: bytes,
        clock: Clock = utc_now,
        visit_locator: VisitLocator | None = None,
        command_retries: int = 30,
    ):
        self._secret = secret
        self.clock = clock
        self.visit_locator = visit_locator or (lambda visit_id: None)
        self.command_retries = command_retries
        self.saved_observers: list[Callable[[int, set[str]], None]] = []
        self._stripes = [threading.RLock() for _ in range(_STRIPES)]
        super().__init__(env)

    # -- wiring -------------------------------------------------------------------------

    def construct_mapper(self) -> PersonalDataMapper:
        self.keys = KeyStore(self.factory.datastore, self._secret)
        return PersonalDataMapper(self.construct_transcoder(), self.keys)

    def _notify(self, recordings) -> None:
        if recordings and self.saved_observers:
            position = max(r.notification.id for r in recordings)
            topics = {r.notification.topic for r in recordings}
            for observer in self.saved_observers:
                observer(position, topics)

    # -- restaurants --------------------------------------------------------------------

    def open_restaurant(
        self, name: str, timezone: str = "UTC", *, actor: str, restaurant_id: UUID | None = None
    ) -> UUID:
        """Open a restaurant and return its id (an existing `restaurant_id` is a replay: no-op)."""
        name = validation.text(name, "name")
        timezone = validation.timezone_name(timezone)
        restaurant_id = restaurant_id or uuid4()

        def attempt() -> UUID:
            if self._exists(restaurant_id):
                if self.repository.get(restaurant_id).deleted:
                    raise ReplayOfDeleted("restaurant", restaurant_id)
                return restaurant_id
            self.save(Restaurant.open(restaurant_id, name, timezone, actor, self.clock()))
            return restaurant_id

        return self._retrying(attempt)

    def update_restaurant(
        self,
        restaurant_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        name: str | None = None,
        timezone: str | None = None,
    ) -> None:
        """Change a restaurant's name and/or time zone (None keeps the current value)."""
        name = None if name is None else validation.text(name, "name")
        timezone = None if timezone is None else validation.timezone_name(timezone)

        def attempt() -> None:
            restaurant = self._restaurant(restaurant_id, scope)
            restaurant.change_details(name or restaurant.name, timezone or restaurant.timezone, actor, self.clock())
            self.save(restaurant)

        with self._serialised(restaurant_id):
            self._retrying(attempt)

    def delete_restaurant(self, restaurant_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Delete a restaurant that has no customers left."""

        def attempt() -> None:
            restaurant = self._restaurant(restaurant_id, scope)
            at = self.clock()
            rolls = [self._roll(roll_id, restaurant_id, actor) for roll_id in roll_ids(restaurant_id)]
            restaurant.delete(sum(roll.count for roll in rolls), actor, at)
            for roll in rolls:
                roll.close(actor, at)
            self.save(restaurant, *rolls)

        with self._serialised(restaurant_id):
            self._retrying(attempt)

    # -- customers ----------------------------------------------------------------------

    def register_customer(
        self,
        restaurant_id: UUID,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        actor: str,
        scope: UUID | None,
        customer_id: UUID | None = None,
    ) -> UUID:
        """Register a customer of a restaurant; the email must be unused there (any case)."""
        email = validation.email(email)
        first_name = validation.text(first_name, "first_name", required=False)
        last_name = validation.text(last_name, "last_name", required=False)
        customer_id = customer_id or uuid4()

        def attempt() -> UUID:
            if self._exists(customer_id):
                if self.repository.get(customer_id).deleted:
                    raise ReplayOfDeleted("customer", customer_id)
                return customer_id
            try:
                self._restaurant(restaurant_id, scope)
                roll = self._roll(roll_id_for(restaurant_id, customer_id), restaurant_id, actor)
                roll.admit(customer_id, actor, self.clock())
            except RestaurantNotFound:
                raise InvalidInput("restaurant", "no such restaurant") from None
            index = self._claim_email(restaurant_id, email, customer_id, actor)
            self.keys.create(customer_id)
            customer = Customer.register(customer_id, restaurant_id, email, first_name, last_name, actor, self.clock())
            self.save(customer, index, roll)
            return customer_id

        with self._serialised(roll_id_for(restaurant_id, customer_id)):
            return self._retrying(attempt)

    def update_customer(
        self,
        customer_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> None:
        """Change a customer's email and/or names (None keeps the current value)."""
        email = None if email is None else validation.email(email)
        first_name = None if first_name is None else validation.text(first_name, "first_name", required=False)
        last_name = None if last_name is None else validation.text(last_name, "last_name", required=False)

        def attempt() -> None:
            customer = self._customer(customer_id, scope)
            new_email = customer.email if email is None else email
            changed = [customer]
            if validation.normalised_email(new_email) != validation.normalised_email(customer.email):
                changed.append(self._claim_email(customer.restaurant_id, new_email, customer_id, actor))
                changed.append(self._email_index(customer.restaurant_id, customer.email))
                changed[-1].release(customer_id, actor, self.clock())
            customer.change_details(
                new_email,
                customer.first_name if first_name is None else first_name,
                customer.last_name if last_name is None else last_name,
                actor,
                self.clock(),
            )
            self.save(*changed)

        with self._serialised(customer_id):
            self._retrying(attempt)

    def delete_customer(self, customer_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Delete a customer: gone from lists and segments, email free again, history kept."""

        def attempt() -> None:
            customer = self._customer(customer_id, scope)
            at = self.clock()
            index = self._email_index(customer.restaurant_id, customer.email)
            roll = self.repository.get(roll_id_for(customer.restaurant_id, customer_id))
            customer.delete(actor, at)
            index.release(customer_id, actor, at)
            roll.release(customer_id, actor, at)
            self.save(customer, index, roll)

        with self._serialised(customer_id):
            self._retrying(attempt)

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
    ) -> UUID:
        """Record a visit and return its id; an already recorded `visit_id` changes nothing."""
        spend_cents = validation.spend_cents(spend_cents)
        now = self.clock()
        visited_at = now if visited_at is None else validation.visit_time(visited_at, now)
        visit_id = visit_id or uuid4()

        def attempt() -> UUID:
            customer = self._customer(customer_id, scope)
            customer.record_visit(visit_id, spend_cents, visited_at, actor, self.clock())
            self.save(customer)
            return visit_id

        with self._serialised(customer_id):
            return self._retrying(attempt)

    def correct_visit(
        self,
        visit_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        spend_cents: int | None = None,
        visited_at: datetime | None = None,
    ) -> None:
        """Correct a visit's spend and/or time (None keeps the current value)."""
        spend_cents = None if spend_cents is None else validation.spend_cents(spend_cents)
        visited_at = None if visited_at is None else validation.visit_time(visited_at, self.clock())
        customer_id = self._customer_of_visit(visit_id)

        def attempt() -> None:
            customer = self._visit_holder(customer_id, visit_id, scope)
            visit = customer.visit(visit_id)
            customer.correct_visit(
                visit_id,
                visit["spend_cents"] if spend_cents is None else spend_cents,
                visit["visited_at"] if visited_at is None else visited_at,
                actor,
                self.clock(),
            )
            self.save(customer)

        with self._serialised(customer_id):
            self._retrying(attempt)

    def void_visit(self, visit_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Void a visit: it no longer counts towards the customer's totals."""
        customer_id = self._customer_of_visit(visit_id)

        def attempt() -> None:
            customer = self._visit_holder(customer_id, visit_id, scope)
            customer.void_visit(visit_id, actor, self.clock())
            self.save(customer)

        with self._serialised(customer_id):
            self._retrying(attempt)

    # -- event-sourced reads ------------------------------------------------------------

    def customer_history(self, customer_id: UUID, *, scope: UUID | None) -> list[dict]:
        """Every event of a customer, in order, as plain dicts."""
        return history.events_of(self, customer_id, scope)

    def customer_as_of(self, customer_id: UUID, at: datetime, *, scope: UUID | None) -> dict:
        """The customer as they were at `at`, rebuilt from their events."""
        return history.customer_as_of(self, customer_id, at, scope)

    # -- helpers ------------------------------------------------------------------------

    def _exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _restaurant(self, restaurant_id: UUID, scope: UUID | None) -> Restaurant:
        if scope is not None and scope != restaurant_id:
            raise RestaurantNotFound(restaurant_id)
        try:
            restaurant = self.repository.get(restaurant_id)
        except AggregateNotFoundError:
            raise RestaurantNotFound(restaurant_id) from None
        if not isinstance(restaurant, Restaurant) or restaurant.deleted:
            raise RestaurantNotFound(restaurant_id)
        return restaurant

    def _customer(self, customer_id: UUID, scope: UUID | None) -> Customer:
        try:
            customer = self.repository.get(customer_id)
        except AggregateNotFoundError:
            raise CustomerNotFound(customer_id) from None
        if not isinstance(customer, Customer) or customer.deleted:
            raise CustomerNotFound(customer_id)
        if scope is not None and customer.restaurant_id != scope:
            raise CustomerNotFound(customer_id)
        return customer

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

    def _roll(self, roll_id: UUID, restaurant_id: UUID, actor: str) -> CustomerRoll:
        try:
            return self.repository.get(roll_id)
        except AggregateNotFoundError:
            return CustomerRoll.start(roll_id, restaurant_id, actor, self.clock())

    def _email_index(self, restaurant_id: UUID, email: str) -> CustomerEmail:
        return self.repository.get(customer_email_id(self._secret, restaurant_id, email))

    def _claim_email(self, restaurant_id: UUID, email: str, customer_id: UUID, actor: str) -> CustomerEmail:
        index_id = customer_email_id(self._secret, restaurant_id, email)
        try:
            index = self.repository.get(index_id)
        except AggregateNotFoundError:
            return CustomerEmail.claim_new(index_id, customer_id, actor, self.clock())
        index.claim(customer_id, actor, self.clock())
        return index

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run a command, reloading and retrying when another writer got there first."""
        for n in range(self.command_retries):
            try:
                return attempt()
            except IntegrityError:
                time.sleep(random.uniform(0, min(0.25, 0.002 * 2**n)))
        raise ConcurrencyConflict()

    @contextmanager
    def _serialised(self, *aggregate_ids: UUID) -> Iterator[None]:
        # Commands on one aggregate queue up inside a process instead of colliding; across
        # processes, optimistic concurrency and _retrying keep them correct.
        stripes = sorted({hash(i) % _STRIPES for i in aggregate_ids})
        with ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._stripes[stripe])
            yield
