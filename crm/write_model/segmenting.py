"""Segment commands: save, change and delete a restaurant's named audience rules."""

from __future__ import annotations

from uuid import UUID, uuid4

from crm.write_model import validation
from crm.write_model.commands import Commands, Recorded
from crm.write_model.errors import InvalidInput, RestaurantNotFound, SegmentNotFound
from crm.write_model.segment_rules import parse_rule
from crm.write_model.segments import Segment


class SegmentCommands(Commands):
    """Commands on saved segments."""

    def create_segment(
        self,
        restaurant_id: UUID,
        name: str,
        rule: object,
        *,
        actor: str,
        scope: UUID | None,
        segment_id: UUID | None = None,
    ) -> Recorded:
        """Save a rule under a name for a restaurant (an existing `segment_id` is a replay)."""
        name = validation.text(name, "name")
        rule = parse_rule(rule, "rule").as_json()
        segment_id = segment_id or uuid4()

        def attempt() -> Recorded:
            if self._created_before(segment_id, "segment"):
                return self._unchanged(segment_id, Segment)
            try:
                self._restaurant(restaurant_id, scope)
            except RestaurantNotFound:
                raise InvalidInput("restaurant", "no such restaurant") from None
            segment = Segment.create(segment_id, restaurant_id, name, rule, actor, self.clock())
            return self._save_recorded(segment_id, segment)

        return self._run(attempt)

    def update_segment(
        self,
        segment_id: UUID,
        *,
        actor: str,
        scope: UUID | None,
        name: str | None = None,
        rule: object = None,
    ) -> Recorded:
        """Rename a segment and/or replace its rule (None keeps the current value)."""
        name = None if name is None else validation.text(name, "name")
        rule = None if rule is None else parse_rule(rule, "rule").as_json()

        def attempt() -> Recorded:
            segment = self._segment(segment_id, scope)
            segment.change(
                segment.name if name is None else name, segment.rule if rule is None else rule, actor, self.clock()
            )
            return self._save_recorded(segment_id, segment)

        return self._run(attempt, segment_id)

    def delete_segment(self, segment_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Delete a saved segment (campaigns that already started keep the audience they resolved)."""

        def attempt() -> Recorded:
            segment = self._segment(segment_id, scope)
            segment.delete(actor, self.clock())
            return self._save_recorded(segment_id, segment)

        return self._run(attempt, segment_id)

    def _segment(self, segment_id: UUID, scope: UUID | None) -> Segment:
        return self._load(Segment, segment_id, scope, SegmentNotFound)
