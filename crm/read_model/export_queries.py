"""Whole lists for CSV exports, read row by row through a server-side cursor.

What the caller may see is decided when the export is asked for (an unknown or hidden segment or
campaign is None then, before anything is streamed); the rows are read only when iterated, on a
connection of their own that goes back to the pool when the rows are exhausted or closed (a
client gone mid-download). One statement reads them all: one snapshot, whatever the size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, literal, select
from sqlalchemy.engine import Connection, Engine

from crm.read_model.pages import QueriesBase, _utc
from crm.read_model.queries import ACTIVE, LIVE_EMAIL, search_pattern, searched
from crm.read_model.segment_queries import SegmentQueries
from crm.read_model.tables import campaigns, customers, outreach_events, segments
from crm.write_model.segment_rules import parse_rule

FETCH_ROWS = 1000  # rows the cursor hands over at a time

_customer_columns = (
    customers.c.id,
    customers.c.email,
    customers.c.first_name,
    customers.c.last_name,
    customers.c.email_consent,
    customers.c.external_id,
    customers.c.total_spend_cents,
    customers.c.visit_count,
    customers.c.first_visit_at,
    customers.c.last_visit_at,
    customers.c.created_at,
)
_outreach_columns = (
    outreach_events.c.id,
    outreach_events.c.campaign_id,
    # campaign_name: the campaign's, added by the query
    outreach_events.c.customer_id,
    LIVE_EMAIL,
    outreach_events.c.channel,
    outreach_events.c.status,
    outreach_events.c.error_message,
    outreach_events.c.attempts,
    outreach_events.c.sent_at,
    outreach_events.c.created_at,
)
CUSTOMER_COLUMNS = tuple(column.name for column in _customer_columns)
OUTREACH_COLUMNS = ("id", "campaign_id", "campaign_name", *(c.name for c in _outreach_columns[2:]))


@dataclass(frozen=True)
class Export:
    """A table to write: its column names, and its rows (tuples in that order), read when iterated."""

    columns: tuple[str, ...]
    rows: Iterator[tuple]


class ExportQueries(QueriesBase):
    """Every row of a list, filtered by the caller's restaurant (`scope`) like the list."""

    def __init__(self, engine: Engine, rules: SegmentQueries):
        super().__init__(engine)
        self.rules = rules

    def customers(
        self,
        scope: UUID | None,
        restaurant_id: UUID | None,
        search: str | None,
        segment_id: UUID | None = None,
        now: datetime | None = None,
    ) -> Export | None:
        """The customers `Queries.customers` lists, newest first; with `segment_id`, only those
        matching that saved segment's rule at `now` (None if the segment is not visible)."""
        query = self._scoped(select(*_customer_columns).where(ACTIVE), customers.c.restaurant_id, scope)
        if restaurant_id is not None:
            query = query.where(customers.c.restaurant_id == restaurant_id)
        if search:
            query = query.where(searched(search_pattern(search)))
        query = query.order_by(customers.c.created_at.desc(), customers.c.id.desc())
        if segment_id is None:
            return Export(CUSTOMER_COLUMNS, self._rows(lambda conn: query))
        segment = select(segments.c.restaurant_id, segments.c.rule).where(segments.c.id == segment_id)
        segment = self._one(self._scoped(segment, segments.c.restaurant_id, scope))
        if segment is None:
            return None
        rule = parse_rule(segment["rule"])

        def members(conn: Connection) -> Select:
            matched = self.rules.matched(conn, scope, segment["restaurant_id"], rule, now)
            return query.join(matched, matched.c.id == customers.c.id)

        return Export(CUSTOMER_COLUMNS, self._rows(members))

    def campaign_outreach(self, campaign_id: UUID, scope: UUID | None, status: str | None = None) -> Export | None:
        """A campaign's outreach records (one per recipient), newest first as its events list;
        None if the campaign is not visible."""
        campaign = select(campaigns.c.name).where(campaigns.c.id == campaign_id)
        campaign = self._one(self._scoped(campaign, campaigns.c.restaurant_id, scope))
        if campaign is None:
            return None
        query = (
            select(*_outreach_columns[:2], literal(campaign["name"]).label("campaign_name"), *_outreach_columns[2:])
            .select_from(outreach_events.outerjoin(customers, customers.c.id == outreach_events.c.customer_id))
            .where(outreach_events.c.campaign_id == campaign_id)
            .order_by(outreach_events.c.created_at.desc(), outreach_events.c.id.desc())
        )
        if status is not None:
            query = query.where(outreach_events.c.status == status)
        return Export(OUTREACH_COLUMNS, self._rows(lambda conn: query))

    def _rows(self, statement: Callable[[Connection], Select]) -> Iterator[tuple]:
        """The rows of `statement(conn)`, fetched `FETCH_ROWS` at a time as they are iterated
        (PostgreSQL: a named cursor; SQLite steps its statement). Nothing runs before the first."""
        with self.engine.connect() as conn:
            with conn.execution_options(yield_per=FETCH_ROWS).execute(statement(conn)) as result:
                if conn.dialect.name == "postgresql":
                    yield from (tuple(row) for row in result)
                else:  # SQLite's times come back without their zone (UTC)
                    yield from (tuple(_utc(value) for value in row) for row in result)
