"""The ContactAllowance aggregate: a restaurant's frequency cap on one customer, held exactly.

Before a message goes out to a customer of a capped restaurant, the sender reserves it here;
the event store's optimistic concurrency makes two campaigns sending at once meet on this one
stream, so they can never together exceed the cap. A reservation stands for a message sent (or
about to be: after a crash between the two it still counts, erring on the side of fewer
messages); a failed delivery releases it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from crm.write_model.base import CrmAggregate


def contact_allowance_id(restaurant_id: UUID, customer_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"crm:contact-allowance:{restaurant_id}:{customer_id}")


class ContactAllowance(CrmAggregate):
    """The messages reserved for one customer of one restaurant: campaign id -> when."""

    class Started(CrmAggregate.Created):
        restaurant_id: UUID
        customer_id: UUID

        def apply(self, allowance: ContactAllowance) -> None:
            allowance.restaurant_id = self.restaurant_id
            allowance.customer_id = self.customer_id
            allowance.reserved = {}

    class Reserved(CrmAggregate.Event):
        campaign_id: UUID

        def apply(self, allowance: ContactAllowance) -> None:
            allowance.reserved[str(self.campaign_id)] = self.timestamp

    class Released(CrmAggregate.Event):
        campaign_id: UUID

        def apply(self, allowance: ContactAllowance) -> None:
            allowance.reserved.pop(str(self.campaign_id), None)

    @classmethod
    def start(cls, restaurant_id: UUID, customer_id: UUID, actor: str, at: datetime) -> ContactAllowance:
        return cls._create(
            cls.Started,
            id=contact_allowance_id(restaurant_id, customer_id),
            restaurant_id=restaurant_id,
            customer_id=customer_id,
            actor=actor,
            timestamp=at,
        )

    def reserve(self, campaign_id: UUID, messages: int, days: int, actor: str, at: datetime) -> bool:
        """Reserve this campaign's message if fewer than `messages` are reserved within the last
        `days` days; True if it holds one (already held: a redelivered task keeps it)."""
        if str(campaign_id) in self.reserved:
            return True
        since = at - timedelta(days=days)
        if sum(1 for when in self.reserved.values() if when > since) >= messages:
            return False
        self.trigger_event(self.Reserved, campaign_id=campaign_id, actor=actor, timestamp=at)
        return True

    def release(self, campaign_id: UUID, actor: str, at: datetime) -> None:
        """Give back this campaign's reservation (its message was not delivered)."""
        if str(campaign_id) in self.reserved:
            self.trigger_event(self.Released, campaign_id=campaign_id, actor=actor, timestamp=at)
