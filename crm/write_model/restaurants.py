"""The Restaurant aggregate: a tenant of the CRM."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crm.write_model import validation
from crm.write_model.base import CrmAggregate
from crm.write_model.errors import RestaurantNotFound


class Restaurant(CrmAggregate):
    """A restaurant: its name, time zone, frequency cap (at most `frequency_cap_messages`
    messages to one customer within `frequency_cap_days`; 0: no cap) and quiet hours (local
    "HH:MM" from `quiet_hours_start` to `quiet_hours_end`; None: none). Its customers are the
    streams it owns (see the application)."""

    frequency_cap_messages = 0  # restaurants recorded before the cap existed
    frequency_cap_days = 0
    quiet_hours_start: str | None = None  # and before quiet hours existed
    quiet_hours_end: str | None = None

    class Opened(CrmAggregate.Created):
        name: str
        timezone: str

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.name = self.name
            restaurant.timezone = self.timezone
            restaurant.deleted = False

    class DetailsChanged(CrmAggregate.Event):
        name: str
        timezone: str

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.name = self.name
            restaurant.timezone = self.timezone

    class FrequencyCapChanged(CrmAggregate.Event):
        messages: int
        days: int

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.frequency_cap_messages = self.messages
            restaurant.frequency_cap_days = self.days

    class QuietHoursChanged(CrmAggregate.Event):
        start: str | None
        end: str | None

        def apply(self, restaurant: Restaurant) -> None:
            restaurant.quiet_hours_start = self.start
            restaurant.quiet_hours_end = self.end

    class Deleted(CrmAggregate.Event):
        def apply(self, restaurant: Restaurant) -> None:
            restaurant.deleted = True

    @classmethod
    def open(cls, id: UUID, name: str, timezone: str, actor: str, at: datetime) -> Restaurant:
        return cls._create(cls.Opened, id=id, name=name, timezone=timezone, actor=actor, timestamp=at)

    @property
    def restaurant_id(self) -> UUID:
        """A restaurant is its own scope."""
        return self.id

    def change_details(self, name: str, timezone: str, actor: str, at: datetime) -> None:
        self._require_open()
        if (name, timezone) != (self.name, self.timezone):
            self.trigger_event(self.DetailsChanged, name=name, timezone=timezone, actor=actor, timestamp=at)

    def change_frequency_cap(self, messages: int, days: int, actor: str, at: datetime) -> None:
        """At most `messages` messages to one customer within `days` days (0 and 0: no cap)."""
        self._require_open()
        if (messages, days) != (self.frequency_cap_messages, self.frequency_cap_days):
            self.trigger_event(self.FrequencyCapChanged, messages=messages, days=days, actor=actor, timestamp=at)

    def change_quiet_hours(self, start: str | None, end: str | None, actor: str, at: datetime) -> None:
        """Send nothing from `start` to `end`, local times "HH:MM" (None and None: no quiet hours)."""
        self._require_open()
        start, end = validation.quiet_hours(start, end)
        if (start, end) != (self.quiet_hours_start, self.quiet_hours_end):
            self.trigger_event(self.QuietHoursChanged, start=start, end=end, actor=actor, timestamp=at)

    def delete(self, actor: str, at: datetime) -> None:
        """Delete the restaurant (the command saves it only if none of its customers is live)."""
        self._require_open()
        self.trigger_event(self.Deleted, actor=actor, timestamp=at)

    def _require_open(self) -> None:
        if self.deleted:
            raise RestaurantNotFound(self.id)
