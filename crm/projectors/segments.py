"""SegmentsProjector: the `segments` table."""

from __future__ import annotations

from functools import singledispatchmethod

from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.read_model.tables import segments
from crm.write_model.segments import Segment


class SegmentsProjector(Projector):
    """One row per saved segment not deleted."""

    name = "segments"
    tables = (segments,)
    unordered_events = (Segment.Created, Segment.Changed, Segment.Deleted)  # each touches its own row only

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    @handle.register
    def _created(self, event: Segment.Created, session: Session) -> None:
        session.execute(
            segments.insert().values(
                id=event.originator_id,
                restaurant_id=event.restaurant_id,
                name=event.name,
                rule=event.rule,
                created_at=event.timestamp,
                updated_at=event.timestamp,
            )
        )

    @handle.register
    def _changed(self, event: Segment.Changed, session: Session) -> None:
        session.execute(
            segments.update()
            .where(segments.c.id == event.originator_id)
            .values(name=event.name, rule=event.rule, updated_at=event.timestamp)
        )

    @handle.register
    def _deleted(self, event: Segment.Deleted, session: Session) -> None:
        session.execute(segments.delete().where(segments.c.id == event.originator_id))
