"""The Customer aggregate: profile, marketing consent, erasure.

Visits are their own streams now (`crm.write_model.visits`). The customer's own visit events
stay, for the visits recorded before: they are replayed, corrected and voided as they were.

Personal fields are encrypted in the log with the customer's own key. Erasure destroys the key
and appends `Erased`, which carries every earlier event of the stream without its personal
fields (`redacted`): the history, a rebuild and the aggregate itself read those instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Snapshot

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import CustomerNotFound, VisitNotFound
from crm.write_model.vocabulary import ConsentSource, EmailConsent

ERASED = "[erased]"  # what a personal field reads as once its customer is erased


class Customer(CrmAggregate):
    """A restaurant's customer. Personal fields are encrypted in the log with a per-customer key."""

    # Defaults for state restored from snapshots taken before consent and erasure existed.
    erased = False
    email_consent = EmailConsent.SUBSCRIBED
    email_consent_changed_at = None
    external_id = None

    class Event(CrmAggregate.Event):
        personal_data = True
        personal_fields = ("email", "first_name", "last_name")

    class Created(Event, CrmAggregate.Created):
        pass

    class Snapshot(Snapshot):
        personal_data = True

    class Registered(Created):
        """A new customer; `external_id`: their id in another system, when an import brings one
        (a later one comes as `ExternalIdAssigned`)."""

        class_version = 2
        personal_fields = ("email", "first_name", "last_name", "external_id")
        restaurant_id: UUID
        email: str
        first_name: str
        last_name: str
        external_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["external_id"] = None  # registered before a registration could carry one

        def apply(self, customer: Customer) -> None:
            customer.restaurant_id = self.restaurant_id
            customer.email = self.email
            customer.first_name = self.first_name
            customer.last_name = self.last_name
            customer.external_id = self.external_id
            customer.deleted = False
            customer.erased = False
            customer.visits = {}
            customer.email_consent = EmailConsent.SUBSCRIBED
            customer.email_consent_changed_at = self.timestamp

    class DetailsChanged(Event):
        email: str
        first_name: str
        last_name: str

        def apply(self, customer: Customer) -> None:
            customer.email = self.email
            customer.first_name = self.first_name
            customer.last_name = self.last_name

    class ExternalIdAssigned(Event):
        """The customer's id in another system (a POS, an earlier CRM), set once by an import."""

        personal_fields = ("external_id",)
        external_id: str

        def apply(self, customer: Customer) -> None:
            customer.external_id = self.external_id

    class VisitRecorded(Event):
        visit_id: UUID
        spend_cents: int
        visited_at: datetime

        def apply(self, customer: Customer) -> None:
            customer.visits[str(self.visit_id)] = {
                "spend_cents": self.spend_cents,
                "visited_at": self.visited_at,
                "recorded_at": self.timestamp,
            }

    class VisitCorrected(Event):
        visit_id: UUID
        spend_cents: int
        visited_at: datetime

        def apply(self, customer: Customer) -> None:
            visit = customer.visits[str(self.visit_id)]
            visit["spend_cents"] = self.spend_cents
            visit["visited_at"] = self.visited_at

    class VisitVoided(Event):
        visit_id: UUID

        def apply(self, customer: Customer) -> None:
            customer.visits[str(self.visit_id)]["voided"] = True

    class Deleted(Event):
        def apply(self, customer: Customer) -> None:
            customer.deleted = True

    class Unsubscribed(Event):
        """The customer no longer wants marketing email (`source`: a `ConsentSource`;
        `campaign_id`: the campaign whose message's link they used, when they used one)."""

        class_version = 2
        personal_data = False
        source: str
        campaign_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["campaign_id"] = None  # recorded before the link's campaign was kept

        def apply(self, customer: Customer) -> None:
            customer.email_consent = EmailConsent.UNSUBSCRIBED
            customer.email_consent_changed_at = self.timestamp

    class Resubscribed(Event):
        """The customer consents to marketing email again."""

        personal_data = False
        source: str

        def apply(self, customer: Customer) -> None:
            customer.email_consent = EmailConsent.SUBSCRIBED
            customer.email_consent_changed_at = self.timestamp

    class Erased(Event):
        """The person is erased: their key is destroyed with this event. `redacted` holds each
        earlier event of the stream as `{"version", "topic", "state"}` with its personal fields
        replaced by ERASED; `restaurant_id` keeps the tenancy readable."""

        personal_data = False
        restaurant_id: UUID
        redacted: list[dict]

        def apply(self, customer: Customer) -> None:
            customer.email = customer.first_name = customer.last_name = ERASED
            customer.deleted = True
            customer.erased = True

    @classmethod
    def register(
        cls,
        id: UUID,
        restaurant_id: UUID,
        email: str,
        first_name: str,
        last_name: str,
        actor: str,
        at: datetime,
        external_id: str | None = None,
    ) -> Customer:
        return cls._create(
            cls.Registered,
            id=id,
            restaurant_id=restaurant_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
            external_id=external_id,
            actor=actor,
            timestamp=at,
        )

    def change_details(self, email: str, first_name: str, last_name: str, actor: str, at: datetime) -> None:
        self.require_active()
        if (email, first_name, last_name) != (self.email, self.first_name, self.last_name):
            self.trigger_event(
                self.DetailsChanged, email=email, first_name=first_name, last_name=last_name, actor=actor, timestamp=at
            )

    def assign_external_id(self, external_id: str, actor: str, at: datetime) -> None:
        self.require_active()
        if self.external_id != external_id:
            self.trigger_event(self.ExternalIdAssigned, external_id=external_id, actor=actor, timestamp=at)

    def correct_visit(self, visit_id: UUID, spend_cents: int, visited_at: datetime, actor: str, at: datetime) -> None:
        self.require_active()
        visit = self.visit(visit_id)
        if (spend_cents, visited_at) != (visit["spend_cents"], visit["visited_at"]):
            self.trigger_event(
                self.VisitCorrected,
                visit_id=visit_id,
                spend_cents=spend_cents,
                visited_at=visited_at,
                actor=actor,
                timestamp=at,
            )

    def void_visit(self, visit_id: UUID, actor: str, at: datetime) -> None:
        self.require_active()
        self.visit(visit_id)
        self.trigger_event(self.VisitVoided, visit_id=visit_id, actor=actor, timestamp=at)

    def delete(self, actor: str, at: datetime) -> None:
        self.require_active()
        self.trigger_event(self.Deleted, actor=actor, timestamp=at)

    def unsubscribe(self, source: ConsentSource, actor: str, at: datetime, campaign_id: UUID | None = None) -> None:
        """Stop marketing email to this customer (already unsubscribed: nothing changes);
        `campaign_id`: the campaign whose message's link they used."""
        self.require_active()
        if self.email_consent != EmailConsent.UNSUBSCRIBED:
            self.trigger_event(
                self.Unsubscribed, source=str(source), campaign_id=campaign_id, actor=actor, timestamp=at
            )

    def resubscribe(self, source: ConsentSource, actor: str, at: datetime) -> None:
        """Consent to marketing email again (already subscribed: nothing changes)."""
        self.require_active()
        if self.email_consent != EmailConsent.SUBSCRIBED:
            self.trigger_event(self.Resubscribed, source=str(source), actor=actor, timestamp=at)

    def erase(self, redacted: list[dict], actor: str, at: datetime) -> None:
        """Erase the person (a deleted customer too); `redacted`: see `Erased`. Once only."""
        if self.erased:
            return
        self.trigger_event(self.Erased, restaurant_id=self.restaurant_id, redacted=redacted, actor=actor, timestamp=at)

    def require_active(self) -> None:
        if self.deleted:
            raise CustomerNotFound(self.id)

    def visit(self, visit_id: UUID) -> dict[str, Any]:
        visit = self.visits.get(str(visit_id))
        if visit is None or visit.get("voided"):
            raise VisitNotFound(visit_id)
        return visit

    @property
    def counted_visits(self) -> list[dict[str, Any]]:
        """The visits that count: every recorded visit that was not voided."""
        return [v for v in self.visits.values() if not v.get("voided")]

    @property
    def total_spend_cents(self) -> int:
        return sum(v["spend_cents"] for v in self.counted_visits)

    @property
    def last_visit_at(self) -> datetime | None:
        return max((v["visited_at"] for v in self.counted_visits), default=None)


def redacted_state(event_state: dict, personal_fields: tuple[str, ...]) -> dict:
    """An event's stored state with its personal fields replaced by ERASED (one never given, such
    as a registration's absent external id, stays absent)."""
    return {
        key: (ERASED if key in personal_fields and value is not None else value) for key, value in event_state.items()
    }
