"""Saved segments as the API lists them, their members now, and counts of unsaved rules."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm.read_model.pages import Page, QueriesBase
from crm.read_model.segment_queries import SegmentQueries
from crm.read_model.tables import restaurants, segments
from crm.write_model.errors import InvalidInput
from crm.write_model.segment_rules import parse_rule

_columns = (
    segments.c.id,
    segments.c.restaurant_id.label("restaurant"),
    restaurants.c.name.label("restaurant_name"),
    segments.c.name,
    segments.c.rule,
    segments.c.created_at,
    segments.c.updated_at,
)
_from = segments.outerjoin(restaurants, restaurants.c.id == segments.c.restaurant_id)


class SavedSegmentQueries(QueriesBase):
    """Saved segments, filtered by the caller's restaurant (`scope`); rules evaluated by `rules`."""

    def __init__(self, engine: Engine, rules: SegmentQueries):
        super().__init__(engine)
        self.rules = rules

    def segment(self, segment_id: UUID, scope: UUID | None) -> dict | None:
        query = select(*_columns).select_from(_from).where(segments.c.id == segment_id)
        return self._one(self._scoped(query, segments.c.restaurant_id, scope))

    def segments(self, scope: UUID | None, restaurant_id: UUID | None, page: int, page_size: int) -> Page:
        """Saved segments, newest first."""
        query = self._scoped(select(*_columns).select_from(_from), segments.c.restaurant_id, scope)
        if restaurant_id is not None:
            query = query.where(segments.c.restaurant_id == restaurant_id)
        return self._page(query, (segments.c.created_at.desc(), segments.c.id.desc()), page, page_size)

    def members(
        self,
        segment_id: UUID,
        scope: UUID | None,
        now: datetime,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page | None:
        """The customers who match a saved segment's rule at `now`; None if it is not visible."""
        segment = self.segment(segment_id, scope)
        if segment is None:
            return None
        rule = parse_rule(segment["rule"])
        return self.rules.members(scope, segment["restaurant"], rule, now, page, page_size, after)

    def count(self, restaurant_id: UUID, scope: UUID | None, rule: object, now: datetime) -> dict:
        """How many of a restaurant's customers an unsaved rule matches at `now`, and up to 5 of
        them (the rule is checked first: InvalidInput names its offending node)."""
        rule = parse_rule(rule, "rule")
        visible = self._scoped(
            select(restaurants.c.id).where(restaurants.c.id == restaurant_id), restaurants.c.id, scope
        )
        if self._one(visible) is None:
            raise InvalidInput("restaurant", "no such restaurant")
        return self.rules.count(restaurant_id, rule, now)
