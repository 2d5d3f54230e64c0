"""The Segment aggregate: a saved audience rule of one restaurant, under a name.

The rule is kept in its canonical JSON form (`segment_rules.parse_rule(...).as_json()`), checked
before it gets here. A campaign that targets a segment takes the rule the segment has when the
campaign starts; later changes to the segment do not move an audience already resolved.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import SegmentNotFound


class Segment(CrmAggregate):
    """A named rule over a restaurant's customers."""

    class Created(CrmAggregate.Created):
        restaurant_id: UUID
        name: str
        rule: dict

        def apply(self, segment: Segment) -> None:
            segment.restaurant_id = self.restaurant_id
            segment.name = self.name
            segment.rule = self.rule
            segment.deleted = False

    class Changed(CrmAggregate.Event):
        name: str
        rule: dict

        def apply(self, segment: Segment) -> None:
            segment.name = self.name
            segment.rule = self.rule

    class Deleted(CrmAggregate.Event):
        def apply(self, segment: Segment) -> None:
            segment.deleted = True

    @classmethod
    def create(cls, id: UUID, restaurant_id: UUID, name: str, rule: dict, actor: str, at: datetime) -> Segment:
        return cls._create(
            cls.Created, id=id, restaurant_id=restaurant_id, name=name, rule=rule, actor=actor, timestamp=at
        )

    def change(self, name: str, rule: dict, actor: str, at: datetime) -> None:
        """Rename it and/or change its rule (nothing recorded if both stay)."""
        self._require_live()
        if (name, rule) != (self.name, self.rule):
            self.trigger_event(self.Changed, name=name, rule=rule, actor=actor, timestamp=at)

    def delete(self, actor: str, at: datetime) -> None:
        self._require_live()
        self.trigger_event(self.Deleted, actor=actor, timestamp=at)

    def _require_live(self) -> None:
        if self.deleted:
            raise SegmentNotFound(self.id)
