"""What the dashboard's home page shows: figures per restaurant and in total, and series per day.

Messages are counted by the moment they were queued (`created_at`): the only moment every
outreach record has (a failure or a skip records none of its own). Days are UTC days, or the
selected restaurant's local days; each is a range of UTC instants, so a query compares indexed
timestamps with bounds and never converts a column's time zone (which SQLite cannot do).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, and_, case, func, literal, select, union_all
from sqlalchemy.engine import Connection

from crm.read_model.campaign_queries import _campaign_columns, _campaigns_from, with_stats
from crm.read_model.dashboard_queries import MAX_RESTAURANT_CHOICES, progress_of
from crm.read_model.pages import QueriesBase, _row
from crm.read_model.queries import ACTIVE
from crm.read_model.tables import campaigns, customers, outreach_events, restaurants, visits
from crm.write_model.vocabulary import CampaignStatus, OutreachStatus

ACTIVE_DAYS = 30  # "active": a visit (else the registration) this recent, as the inactive segment counts
RECENT = timedelta(days=7)  # "sent this week": queued in the last 7 x 24 h
CHART_DAYS = 30
MAX_RESTAURANT_ROWS = 100
MAX_RUNNING_SHOWN = 20
MESSAGE_STATUSES = tuple(OutreachStatus)


def figures(customers: int = 0, active: int = 0, sent: int = 0, failed: int = 0, running: int = 0) -> dict:
    """One row of the overview's figures; the failure rate is failed / (sent + failed), None without either."""
    attempted = sent + failed
    return {
        "customers": customers,
        "active": active,
        "sent": sent,
        "failed": failed,
        "failure_rate": failed / attempted if attempted else None,
        "running": running,
    }


def day_ranges(now: datetime, zone: ZoneInfo) -> list[tuple[date, datetime, datetime]]:
    """The last CHART_DAYS days in `zone` up to today: (day, first instant, first instant of the next day) in UTC."""
    today = now.astimezone(zone).date()
    days = [today - timedelta(days=CHART_DAYS - 1 - n) for n in range(CHART_DAYS + 1)]
    starts = [datetime.combine(day, time(), tzinfo=zone).astimezone(timezone.utc) for day in days]
    return [(days[n], starts[n], starts[n + 1]) for n in range(CHART_DAYS)]


def _days_table(ranges: list[tuple[date, datetime, datetime]]):
    """The days as a small derived table (number, starts, ends) to join rows to by their timestamp."""
    instant = DateTime(timezone=True)
    rows = [
        select(
            literal(n, Integer).label("number"),
            literal(start, instant).label("starts"),
            literal(end, instant).label("ends"),
        )
        for n, (_, start, end) in enumerate(ranges)
    ]
    return union_all(*rows).subquery("days")


class OverviewQueries(QueriesBase):
    """The home page's one question: how are the restaurants doing, and what is running now."""

    def overview(self, restaurant_id: UUID | None, now: datetime) -> dict:
        """Figures for every restaurant (the first MAX_RESTAURANT_ROWS by name) and in total; for the
        selected restaurant (else all of them): its figures, messages per day by status and visits
        and spend per day over the last CHART_DAYS days, and its running campaigns with progress.

        An unknown restaurant id selects all restaurants.
        """
        with self.engine.connect() as conn:
            choices = [_row(r) for r in conn.execute(_RESTAURANTS.limit(MAX_RESTAURANT_CHOICES))]
            selected = None
            if restaurant_id is not None:
                found = conn.execute(_RESTAURANTS.where(restaurants.c.id == restaurant_id)).first()
                selected = None if found is None else _row(found)
            zone_name = selected["timezone"] if selected else "UTC"
            ranges = day_ranges(now, ZoneInfo(zone_name))
            scope = selected["id"] if selected else None
            by_restaurant = self._by_restaurant(conn, now)
            messages = self._messages_by_day(conn, ranges, scope)
            days_visits = self._visits_by_day(conn, ranges, scope)
            running = self._running(conn, scope, now)
            restaurant_count = conn.execute(select(func.count()).select_from(restaurants)).scalar_one()
        total = figures(**{key: sum(row[key] for row in by_restaurant.values()) for key in _COUNTED})
        rows = [{**r, **by_restaurant.get(r["id"], figures())} for r in choices[:MAX_RESTAURANT_ROWS]]
        return {
            "now": now,
            "restaurant": selected,
            "timezone": zone_name,
            "restaurants": choices,
            "restaurant_rows": rows,
            "restaurant_count": restaurant_count,
            "total": total,
            "figures": by_restaurant.get(scope, figures()) if selected else total,
            "messages_by_day": messages,
            "visits_by_day": days_visits,
            "running": running,
        }

    @staticmethod
    def _by_restaurant(conn: Connection, now: datetime) -> dict[UUID, dict]:
        counts: dict[UUID, dict] = {}

        def add(restaurant: UUID, **values: int) -> None:
            counts.setdefault(restaurant, {key: 0 for key in _COUNTED}).update(values)

        active_since = now - timedelta(days=ACTIVE_DAYS)
        for restaurant, count, active in conn.execute(
            select(
                customers.c.restaurant_id,
                func.count(),
                func.count(case((customers.c.last_active_at >= active_since, 1))),
            )
            .where(ACTIVE)
            .group_by(customers.c.restaurant_id)
        ):
            add(restaurant, customers=count, active=active)
        for restaurant, status, count in conn.execute(
            select(outreach_events.c.restaurant_id, outreach_events.c.status, func.count())
            .where(
                outreach_events.c.created_at >= now - RECENT,
                outreach_events.c.status.in_((OutreachStatus.SENT, OutreachStatus.FAILED)),
            )
            .group_by(outreach_events.c.restaurant_id, outreach_events.c.status)
        ):
            add(restaurant, **{status: count})
        for restaurant, count in conn.execute(
            select(campaigns.c.restaurant_id, func.count())
            .where(campaigns.c.status == CampaignStatus.RUNNING)
            .group_by(campaigns.c.restaurant_id)
        ):
            add(restaurant, running=count)
        return {restaurant: figures(**values) for restaurant, values in counts.items()}

    @staticmethod
    def _messages_by_day(conn: Connection, ranges: list, scope: UUID | None) -> list[dict]:
        days = _days_table(ranges)
        created = outreach_events.c.created_at
        query = (
            select(days.c.number, outreach_events.c.status, func.count())
            .select_from(days.join(outreach_events, and_(created >= days.c.starts, created < days.c.ends)))
            .where(created >= ranges[0][1], created < ranges[-1][2])
            .group_by(days.c.number, outreach_events.c.status)
        )
        if scope is not None:
            query = query.where(outreach_events.c.restaurant_id == scope)
        series = [{"day": day, **{status: 0 for status in MESSAGE_STATUSES}} for day, _, _ in ranges]
        for number, status, count in conn.execute(query):
            series[number][status] = count
        return series

    @staticmethod
    def _visits_by_day(conn: Connection, ranges: list, scope: UUID | None) -> list[dict]:
        days = _days_table(ranges)
        visited = visits.c.visited_at
        query = (
            select(days.c.number, func.count(), func.sum(visits.c.spend_cents))
            .select_from(days.join(visits, and_(visited >= days.c.starts, visited < days.c.ends)))
            .where(visited >= ranges[0][1], visited < ranges[-1][2])
            .group_by(days.c.number)
        )
        if scope is not None:
            query = query.where(visits.c.restaurant_id == scope)
        series = [{"day": day, "visits": 0, "spend_cents": 0} for day, _, _ in ranges]
        for number, count, spend in conn.execute(query):
            series[number].update(visits=count, spend_cents=int(spend or 0))
        return series

    @staticmethod
    def _running(conn: Connection, scope: UUID | None, now: datetime) -> list[dict]:
        query = (
            select(*_campaign_columns)
            .select_from(_campaigns_from)
            .where(campaigns.c.status == CampaignStatus.RUNNING)
            .order_by(campaigns.c.started_at, campaigns.c.id)
            .limit(MAX_RUNNING_SHOWN)
        )
        if scope is not None:
            query = query.where(campaigns.c.restaurant_id == scope)
        shown = [with_stats(_row(r)) for r in conn.execute(query)]
        for campaign in shown:
            campaign["progress"] = progress_of(campaign, now)
        return shown


_COUNTED = ("customers", "active", "sent", "failed", "running")
_RESTAURANTS = select(restaurants.c.id, restaurants.c.name, restaurants.c.timezone).order_by(
    restaurants.c.name, restaurants.c.id
)
