"""The CRM application: one method per command, plus event-sourced reads of one customer.

Every command returns what it recorded (`Recorded`): its id and the position of its last
event, for the caller to wait on before it reads the projections back.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, Mapper

from crm.write_model import history, validation
from crm.write_model.campaigning import CampaignCommands
from crm.write_model.campaigns import Campaign
from crm.write_model.commands import CUSTOMER_LIVE, RESTAURANT_LIVE, Clock, NoneLive, Recorded, StreamLive, utc_now
from crm.write_model.consenting import ConsentCommands
from crm.write_model.customer_emails import CustomerEmail, customer_email_id
from crm.write_model.customers import Customer
from crm.write_model.errors import InvalidInput, RestaurantHasCustomers, StreamNotLive, StreamsStillLive
from crm.write_model.importing import ImportCommands, UploadStore
from crm.write_model.imports import Import
from crm.write_model.outreaching import OutreachCommands
from crm.write_model.restaurants import Restaurant
from crm.write_model.segmenting import SegmentCommands
from crm.write_model.visiting import VisitCommands, VisitLocator
from crm.write_model.vocabulary import ConsentSource


class Keep(Enum):
    """A setting left as it is (where None is a value: no quiet hours)."""

    KEEP = "keep"


KEEP = Keep.KEEP


class EventStorePort(Protocol):
    """What the application needs from the event store adapter.

    Beyond the library's interface, its recorder checks `conditions` (`StreamLive`, `NoneLive`) under its
    insert lock, saves `owners` (stream -> owning stream) with the events, and reads them back
    (`owned_streams`, `select_streams`); its mapper also notes erased streams and preloads keys
    for a stretch of the log read (`note_erasures`, `preload_keys`) and encodes a batch's events
    before their save (`encode_ahead`).
    """

    factory: InfrastructureFactory
    recorder: ApplicationRecorder
    mapper: Mapper
    keys: CustomerKeys


class CustomerKeys(Protocol):
    """Per-customer data keys (destroying one erases the customer's personal data)."""

    def create(self, customer_id: UUID) -> None: ...


class CrmApplication(
    CampaignCommands, OutreachCommands, SegmentCommands, VisitCommands, ConsentCommands, ImportCommands
):
    """Commands for restaurants and customers, and (from its bases) visits, campaigns, saved
    segments, consent and erasure, and imports."""

    name = "crm"
    snapshotting_intervals = {Restaurant: 50, Customer: 50, Campaign: 50, Import: 100}

    def __init__(
        self,
        store: EventStorePort,
        *,
        secret: bytes,
        visit_locator: VisitLocator,
        uploads: UploadStore,
        clock: Clock = utc_now,
        command_retries: int = 30,
    ):
        self._store = store
        self._secret = secret
        self.uploads = uploads
        self.keys = store.keys
        super().__init__({}, visit_locator=visit_locator, clock=clock, command_retries=command_retries)

    # The adapter built the infrastructure; the library's Application asks for it here.
    def construct_factory(self, env) -> InfrastructureFactory:
        return self._store.factory

    def construct_mapper(self) -> Mapper:
        return self._store.mapper

    def construct_recorder(self) -> ApplicationRecorder:
        return self._store.recorder

    # -- restaurants --------------------------------------------------------------------

    def open_restaurant(
        self,
        name: str,
        timezone: str = "UTC",
        *,
        actor: str,
        restaurant_id: UUID | None = None,
        frequency_cap: tuple[int, int] = (0, 0),
        quiet_hours: tuple[str | None, str | None] = (None, None),
    ) -> Recorded:
        """Open a restaurant (an existing `restaurant_id` is a replay: no-op); `frequency_cap`:
        at most this many messages to one customer within this many days ((0, 0): no cap);
        `quiet_hours`: local "HH:MM" from and to which nothing is sent ((None, None): none)."""
        name = validation.text(name, "name")
        timezone = validation.timezone_name(timezone)
        frequency_cap = validation.frequency_cap(*frequency_cap)
        quiet_hours = validation.quiet_hours(*quiet_hours)
        restaurant_id = restaurant_id or uuid4()

        def attempt() -> Recorded:
            if self._created_before(restaurant_id, "restaurant"):
                return self._unchanged(restaurant_id, Restaurant)
            restaurant = Restaurant.open(restaurant_id, name, timezone, actor, self.clock())
            restaurant.change_frequency_cap(*frequency_cap, actor, self.clock())
            restaurant.change_quiet_hours(*quiet_hours, actor, self.clock())
            return self._save_recorded(restaurant_id, restaurant)

        return self._run(attempt)

    def update_restaurant(
        self,
        restaurant_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        name: str | None = None,
        timezone: str | None = None,
        frequency_cap_messages: int | None = None,
        frequency_cap_days: int | None = None,
        quiet_hours_start: str | None | Keep = KEEP,
        quiet_hours_end: str | None | Keep = KEEP,
    ) -> Recorded:
        """Change a restaurant's name, time zone, frequency cap and/or quiet hours (None keeps
        the current value, except for quiet hours, where None is none and KEEP keeps them)."""
        name = None if name is None else validation.text(name, "name")
        timezone = None if timezone is None else validation.timezone_name(timezone)

        def attempt() -> Recorded:
            restaurant = self._restaurant(restaurant_id, scope)
            cap = validation.frequency_cap(
                restaurant.frequency_cap_messages if frequency_cap_messages is None else frequency_cap_messages,
                restaurant.frequency_cap_days if frequency_cap_days is None else frequency_cap_days,
            )
            restaurant.change_details(name or restaurant.name, timezone or restaurant.timezone, actor, self.clock())
            restaurant.change_frequency_cap(*cap, actor, self.clock())
            restaurant.change_quiet_hours(
                restaurant.quiet_hours_start if quiet_hours_start is KEEP else quiet_hours_start,
                restaurant.quiet_hours_end if quiet_hours_end is KEEP else quiet_hours_end,
                actor,
                self.clock(),
            )
            return self._save_recorded(restaurant_id, restaurant)

        return self._run(attempt, restaurant_id)

    def delete_restaurant(self, restaurant_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Delete a restaurant that has no customers left."""

        def attempt() -> Recorded:
            restaurant = self._restaurant(restaurant_id, scope)
            restaurant.delete(actor, self.clock())
            none_live = NoneLive(restaurant_id, CUSTOMER_LIVE)  # checked where no registration slips in
            try:
                return self._save_recorded(restaurant_id, restaurant, conditions=[none_live])
            except StreamsStillLive as still:
                raise RestaurantHasCustomers(still.count) from None

        return self._run(attempt, restaurant_id)

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
    ) -> Recorded:
        """Register a customer of a restaurant; the email must be unused there (any case). An
        address on the restaurant's suppression list (its person was erased) starts unsubscribed.

        First tried without a read: a new customer, a new email claim and the customer's data
        key saved in one transaction, the restaurant's being open checked under the insert
        lock. If the log already holds the customer id or the email, it is tried again reading
        them.
        """
        email = validation.email(email)
        first_name = validation.text(first_name, "first_name", required=False)
        last_name = validation.text(last_name, "last_name", required=False)
        if scope is not None and scope != restaurant_id:
            raise InvalidInput("restaurant", "no such restaurant")
        customer_id = customer_id or uuid4()
        tries = iter(range(self.command_retries + 1))

        def attempt() -> Recorded:
            careful = next(tries) > 0
            if careful and self._created_before(customer_id, "customer"):
                return self._unchanged(customer_id, Customer)
            self.keys.create(customer_id)  # stored with the events it encrypts
            index = (
                self._claim_email(restaurant_id, email, customer_id, actor)
                if careful
                else CustomerEmail.claim_new(
                    customer_email_id(self._secret, restaurant_id, email), customer_id, actor, self.clock()
                )
            )
            customer = Customer.register(customer_id, restaurant_id, email, first_name, last_name, actor, self.clock())
            if index.suppressed:
                customer.unsubscribe(ConsentSource.SUPPRESSION, actor, self.clock())
            try:
                return self._save_recorded(
                    customer_id,
                    customer,
                    index,
                    conditions=[StreamLive(restaurant_id, RESTAURANT_LIVE)],
                    owners={customer_id: restaurant_id},
                )
            except StreamNotLive:
                raise InvalidInput("restaurant", "no such restaurant") from None

        return self._run(attempt, customer_id)

    def update_customer(
        self,
        customer_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> Recorded:
        """Change a customer's email and/or names (None keeps the current value)."""
        email = None if email is None else validation.email(email)
        first_name = None if first_name is None else validation.text(first_name, "first_name", required=False)
        last_name = None if last_name is None else validation.text(last_name, "last_name", required=False)

        def attempt() -> Recorded:
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
            return self._save_recorded(customer_id, *changed)

        return self._run(attempt, customer_id)

    def delete_customer(self, customer_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Delete a customer: gone from lists and segments, email free again, history kept."""

        def attempt() -> Recorded:
            customer = self._customer(customer_id, scope)
            at = self.clock()
            index = self._email_index(customer.restaurant_id, customer.email)
            released = self._external_id_released(customer, actor, at)
            customer.delete(actor, at)
            index.release(customer_id, actor, at)
            return self._save_recorded(customer_id, customer, index, *released)

        return self._run(attempt, customer_id)

    # -- event-sourced reads ------------------------------------------------------------

    def customer_history(self, customer_id: UUID, *, scope: UUID | None) -> list[dict]:
        """Every event of a customer and of their visits, in order, as plain dicts."""
        return history.events_of(self._story(customer_id, scope))

    def customer_as_of(self, customer_id: UUID, at: datetime, *, scope: UUID | None) -> dict:
        """The customer as they were at `at`, rebuilt from their events and their visits'."""
        return history.customer_as_of(self._story(customer_id, scope), self.events.get, at)

    def _story(self, customer_id: UUID, scope: UUID | None) -> list:
        stored = self.recorder.select_streams([customer_id, *self.recorder.owned_streams(customer_id)])
        self.mapper.note_erasures(stored)  # erased: read redacted, whatever keys this process holds
        self.mapper.preload_keys(stored)
        return history.check_story([self.mapper.to_domain_event(s) for s in stored], customer_id, scope)

    # -- helpers ------------------------------------------------------------------------

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
