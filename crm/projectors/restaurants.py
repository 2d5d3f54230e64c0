"""RestaurantsProjector: the `restaurants` table."""

from __future__ import annotations

from functools import singledispatchmethod

from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.read_model.tables import restaurants
from crm.write_model.restaurants import Restaurant


class RestaurantsProjector(Projector):
    """One row per open restaurant."""

    name = "restaurants"
    tables = (restaurants,)
    unordered_events = (
        Restaurant.Opened,
        Restaurant.DetailsChanged,
        Restaurant.FrequencyCapChanged,
        Restaurant.QuietHoursChanged,
        Restaurant.Deleted,
    )

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    @handle.register
    def _opened(self, event: Restaurant.Opened, session: Session) -> None:
        session.execute(
            restaurants.insert().values(
                id=event.originator_id,
                name=event.name,
                timezone=event.timezone,
                created_at=event.timestamp,
                frequency_cap_messages=0,
                frequency_cap_days=0,
            )
        )

    @handle.register
    def _frequency_cap_changed(self, event: Restaurant.FrequencyCapChanged, session: Session) -> None:
        session.execute(
            restaurants.update()
            .where(restaurants.c.id == event.originator_id)
            .values(frequency_cap_messages=event.messages, frequency_cap_days=event.days)
        )

    @handle.register
    def _quiet_hours_changed(self, event: Restaurant.QuietHoursChanged, session: Session) -> None:
        session.execute(
            restaurants.update()
            .where(restaurants.c.id == event.originator_id)
            .values(quiet_hours_start=event.start, quiet_hours_end=event.end)
        )

    @handle.register
    def _changed(self, event: Restaurant.DetailsChanged, session: Session) -> None:
        session.execute(
            restaurants.update()
            .where(restaurants.c.id == event.originator_id)
            .values(name=event.name, timezone=event.timezone)
        )

    @handle.register
    def _deleted(self, event: Restaurant.Deleted, session: Session) -> None:
        session.execute(restaurants.delete().where(restaurants.c.id == event.originator_id))
