"""The CustomerExternalId index aggregate: one customer per external id per restaurant.

An external id is a customer's id in another system (a POS, an earlier CRM), given by an
import; visits imported later find their customer by it. Like the email index, its id is a
keyed hash, so the log never holds the external id in a readable id.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from uuid import NAMESPACE_URL, UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.stable_ids import uuid5


def customer_external_id(secret: bytes, restaurant_id: UUID, external_id: str) -> UUID:
    digest = hmac.new(secret, f"{restaurant_id}:{external_id}".encode(), hashlib.sha256)
    return uuid5(NAMESPACE_URL, "crm:customer-external-id:" + digest.hexdigest())


class CustomerExternalId(CrmAggregate):
    """Which customer, if any, holds one external id in one restaurant."""

    class Claimed(CrmAggregate.Created):
        customer_id: UUID

        def apply(self, index: CustomerExternalId) -> None:
            index.customer_id = self.customer_id

    class Reclaimed(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, index: CustomerExternalId) -> None:
            index.customer_id = self.customer_id

    class Released(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, index: CustomerExternalId) -> None:
            index.customer_id = None

    @classmethod
    def claim_new(cls, id: UUID, customer_id: UUID, actor: str, at: datetime) -> CustomerExternalId:
        return cls._create(cls.Claimed, id=id, customer_id=customer_id, actor=actor, timestamp=at)

    def held_by_another(self, customer_id: UUID) -> bool:
        return self.customer_id is not None and self.customer_id != customer_id

    def claim(self, customer_id: UUID, actor: str, at: datetime) -> None:
        """Take the id for `customer_id` (call only when not `held_by_another`)."""
        if self.customer_id is None:
            self.trigger_event(self.Reclaimed, customer_id=customer_id, actor=actor, timestamp=at)

    def release(self, customer_id: UUID, actor: str, at: datetime) -> None:
        if self.customer_id == customer_id:
            self.trigger_event(self.Released, customer_id=customer_id, actor=actor, timestamp=at)
