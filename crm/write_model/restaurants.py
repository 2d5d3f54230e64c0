"""The Restaurant aggregate: a tenant of the CRM, and the count of its customers."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import RestaurantHasCustomers, RestaurantNotFound


class Restaurant(CrmAggregate):
    """A restaurant. It counts its customers so that it cannot be deleted while it has any."""

    class Opened(CrmAggregate.Created):
        name: str
        timezone: str

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.name = self.name
            restaurant.timezone = self.timezone
            restaurant.customer_count = 0
            restaurant.deleted = False

    class DetailsChanged(CrmAggregate.Event):
        name: str
        timezone: str

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.name = self.name
            restaurant.timezone = self.timezone

    class CustomerJoined(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.customer_count += 1

    class CustomerLeft(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.customer_count -= 1

    class Deleted(CrmAggregate.Event):
        def apply(self, restaurant: Restaurant) -> None:
            restaurant.deleted = True

    @classmethod
    def open(cls, id: UUID, name: str, timezone: str, actor: str, at: datetime) -> Restaurant:
        return cls._create(cls.Opened, id=id, name=name, timezone=timezone, actor=actor, timestamp=at)

    def change_details(self, name: str, timezone: str, actor: str, at: datetime) -> None:
        self._require_open()
        if (name, timezone) != (self.name, self.timezone):
            self.trigger_event(self.DetailsChanged, name=name, timezone=timezone, actor=actor, timestamp=at)

    def admit_customer(self, customer_id: UUID, actor: str, at: datetime) -> None:
        self._require_open()
        self.trigger_event(self.CustomerJoined, customer_id=customer_id, actor=actor, timestamp=at)

    def release_customer(self, customer_id: UUID, actor: str, at: datetime) -> None:
        self.trigger_event(self.CustomerLeft, customer_id=customer_id, actor=actor, timestamp=at)

    def delete(self, actor: str, at: datetime) -> None:
        self._require_open()
        if self.customer_count:
            raise RestaurantHasCustomers(self.customer_count)
        self.trigger_event(self.Deleted, actor=actor, timestamp=at)

    def _require_open(self) -> None:
        if self.deleted:
            raise RestaurantNotFound(self.id)
