"""CustomerRoll: a restaurant's customers counted in shards (no longer written).

Registrations no longer join a roll: a restaurant's customers are the streams it owns, and
its deletion checks that none of them is live (see `CrmApplication.delete_restaurant`). The
class stays so that the rolls already in a log still read. What it did:

A restaurant that still has customers cannot be deleted. Counting them on the Restaurant
aggregate itself would make every registration in a restaurant contend for that one
aggregate; instead each customer joins one of `SHARDS` roll aggregates (chosen by customer
id). Deleting the restaurant closes every shard in the same save, so a registration racing
with the deletion collides with it in the event store and, on retry, finds the roll closed.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import RestaurantNotFound

SHARDS = 16


def roll_ids(restaurant_id: UUID) -> list[UUID]:
    return [uuid5(restaurant_id, f"customer-roll:{shard}") for shard in range(SHARDS)]


def roll_id_for(restaurant_id: UUID, customer_id: UUID) -> UUID:
    return roll_ids(restaurant_id)[customer_id.int % SHARDS]


class CustomerRoll(CrmAggregate):
    """How many customers one shard of a restaurant holds, and whether it is closed."""

    class Started(CrmAggregate.Created):
        restaurant_id: UUID

        def apply(self, roll: CustomerRoll) -> None:
            roll.restaurant_id = self.restaurant_id
            roll.count = 0
            roll.closed = False

    class CustomerJoined(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, roll: CustomerRoll) -> None:
            roll.count += 1

    class CustomerLeft(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, roll: CustomerRoll) -> None:
            roll.count -= 1

    class Closed(CrmAggregate.Event):
        def apply(self, roll: CustomerRoll) -> None:
            roll.closed = True

    @classmethod
    def start(cls, id: UUID, restaurant_id: UUID, actor: str, at: datetime) -> CustomerRoll:
        return cls._create(cls.Started, id=id, restaurant_id=restaurant_id, actor=actor, timestamp=at)

    def admit(self, customer_id: UUID, actor: str, at: datetime) -> None:
        if self.closed:
            raise RestaurantNotFound(self.restaurant_id)
        self.trigger_event(self.CustomerJoined, customer_id=customer_id, actor=actor, timestamp=at)

    def release(self, customer_id: UUID, actor: str, at: datetime) -> None:
        self.trigger_event(self.CustomerLeft, customer_id=customer_id, actor=actor, timestamp=at)

    def close(self, actor: str, at: datetime) -> None:
        if not self.closed:
            self.trigger_event(self.Closed, actor=actor, timestamp=at)
