"""The CustomerEmail index aggregate: one customer per email per restaurant.

Its id is derived from an HMAC of the restaurant id and the normalised email with a server
secret, so two registrations of one email meet on the same aggregate (and the optimistic
concurrency of the event store decides between them) while the log never holds the email.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from uuid import NAMESPACE_URL, UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import DuplicateEmail
from crm.write_model.stable_ids import uuid5
from crm.write_model.validation import normalised_email


def customer_email_id(secret: bytes, restaurant_id: UUID, email: str) -> UUID:
    digest = hmac.new(secret, f"{restaurant_id}:{normalised_email(email)}".encode(), hashlib.sha256)
    return uuid5(NAMESPACE_URL, "crm:customer-email:" + digest.hexdigest())


class CustomerEmail(CrmAggregate):
    """Which customer, if any, holds one email address in one restaurant, and whether the
    address is on the restaurant's suppression list (its person was erased): a customer who
    registers with it later starts unsubscribed. The id is the keyed hash the list is made of."""

    suppressed = False  # indexes recorded before suppression existed

    class Claimed(CrmAggregate.Created):
        customer_id: UUID

        def apply(self, index: CustomerEmail) -> None:
            index.customer_id = self.customer_id
            index.suppressed = False

    class Reclaimed(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, index: CustomerEmail) -> None:
            index.customer_id = self.customer_id

    class Released(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, index: CustomerEmail) -> None:
            index.customer_id = None

    class Suppressed(CrmAggregate.Event):
        """The address goes on the restaurant's suppression list (its person was erased)."""

        def apply(self, index: CustomerEmail) -> None:
            index.suppressed = True

    @classmethod
    def claim_new(cls, id: UUID, customer_id: UUID, actor: str, at: datetime) -> CustomerEmail:
        return cls._create(cls.Claimed, id=id, customer_id=customer_id, actor=actor, timestamp=at)

    def claim(self, customer_id: UUID, actor: str, at: datetime) -> None:
        if self.customer_id == customer_id:
            return
        if self.customer_id is not None:
            raise DuplicateEmail()
        self.trigger_event(self.Reclaimed, customer_id=customer_id, actor=actor, timestamp=at)

    def release(self, customer_id: UUID, actor: str, at: datetime) -> None:
        if self.customer_id == customer_id:
            self.trigger_event(self.Released, customer_id=customer_id, actor=actor, timestamp=at)

    def suppress(self, actor: str, at: datetime) -> None:
        """Put the address on the suppression list (once)."""
        if not self.suppressed:
            self.trigger_event(self.Suppressed, actor=actor, timestamp=at)
