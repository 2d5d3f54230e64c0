"""Read-only queries about campaigns, their audiences and their outreach records."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Select, Subquery, bindparam, func, select
from sqlalchemy.engine import Engine

from crm.read_model.pages import Listed, Page, QueriesBase, by_id
from crm.read_model.queries import ACTIVE, LIVE_EMAIL
from crm.read_model.segment_queries import UNSUBSCRIBED, SegmentQueries, audience_of
from crm.read_model.series_queries import SeriesQueries
from crm.read_model.tables import (
    campaign_batches,
    campaigns,
    customers,
    outreach_events,
    restaurants,
    segments,
    visits,
)
from crm.write_model import templates
from crm.write_model.campaigning import validated_details
from crm.write_model.errors import InvalidInput
from crm.write_model.quiet_hours import QuietHours
from crm.write_model.segment_rules import All, Condition, Field, Op, Rule, parse_rule
from crm.write_model.vocabulary import DEFAULT_SUBJECT, CampaignStatus, EmailConsent, OutreachStatus, SegmentType

_campaign_columns = (
    campaigns.c.id,
    campaigns.c.restaurant_id.label("restaurant"),
    restaurants.c.name.label("restaurant_name"),
    campaigns.c.name,
    campaigns.c.status,
    campaigns.c.segment_type,
    campaigns.c.segment_value,
    campaigns.c.segment_rule,
    campaigns.c.segment_id,
    campaigns.c.subject,
    campaigns.c.message_template,
    campaigns.c.created_at,
    campaigns.c.started_at,
    campaigns.c.completed_at,
    campaigns.c.failed_retried_at,
    campaigns.c.sending_since,
    campaigns.c.scheduled_for,
    campaigns.c.recurrence,
    campaigns.c.recurrence_cooldown_days,
    campaigns.c.series_id,
    campaigns.c.audience,
    campaigns.c.excluded_unsubscribed,
    campaigns.c.excluded_cooldown,
    campaigns.c.queued,
    campaigns.c.sent,
    campaigns.c.failed,
    campaigns.c.skipped,
)
_campaigns_from = campaigns.outerjoin(restaurants, restaurants.c.id == campaigns.c.restaurant_id)

_outreach_columns = (
    outreach_events.c.id,
    outreach_events.c.campaign_id.label("campaign"),
    campaigns.c.name.label("campaign_name"),
    outreach_events.c.customer_id.label("customer"),
    LIVE_EMAIL,
    outreach_events.c.channel,
    outreach_events.c.status,
    outreach_events.c.error_message,
    outreach_events.c.attempts,
    outreach_events.c.sent_at,
    outreach_events.c.created_at,
)
_outreach_from = outreach_events.join(campaigns, campaigns.c.id == outreach_events.c.campaign_id).outerjoin(
    customers, customers.c.id == outreach_events.c.customer_id
)


def _outreach_page_rows(page: Subquery) -> Select:
    """The API's outreach rows for one page of records (campaign and customer joined to these only)."""
    return select(
        page.c.id,
        page.c.campaign_id.label("campaign"),
        campaigns.c.name.label("campaign_name"),
        page.c.customer_id.label("customer"),
        LIVE_EMAIL,
        *(page.c[column.name] for column in _outreach_columns[5:]),
    ).select_from(
        page.join(campaigns, campaigns.c.id == page.c.campaign_id).outerjoin(
            customers, customers.c.id == page.c.customer_id
        )
    )


# A batch's recipients and their consent, read by a sender for each batch (built once).
_RECIPIENTS = (
    select(customers.c.id, customers.c.email, customers.c.first_name, customers.c.last_name)
    .add_columns(
        restaurants.c.name.label("restaurant_name"),
        restaurants.c.frequency_cap_messages,
        restaurants.c.frequency_cap_days,
        restaurants.c.timezone.label("restaurant_timezone"),
        restaurants.c.quiet_hours_start,
        restaurants.c.quiet_hours_end,
        customers.c.email_consent,
        customers.c.deleted_at,
    )
    .select_from(customers.outerjoin(restaurants, restaurants.c.id == customers.c.restaurant_id))
    .where(customers.c.id.in_(bindparam("ids", expanding=True)))
)
_CONSENTS = select(customers.c.id, customers.c.email_consent).where(
    customers.c.id.in_(bindparam("ids", expanding=True))
)

# Built once: a campaign (polled while it runs), and its outreach counts (read before each page
# of its records).
_CAMPAIGN_BY_ID = by_id(
    select(*_campaign_columns).select_from(_campaigns_from), campaigns.c.id, campaigns.c.restaurant_id
)
_OUTREACH_BY_ID = by_id(
    select(*_outreach_columns).select_from(_outreach_from), outreach_events.c.id, outreach_events.c.restaurant_id
)
_OUTREACH_COUNTS = by_id(
    select(*(campaigns.c[key] for key in OutreachStatus)), campaigns.c.id, campaigns.c.restaurant_id
)

_STATS = ("audience", "excluded_unsubscribed", "excluded_cooldown", *OutreachStatus)


def with_stats(row: dict) -> dict:
    """A campaign row with its counts gathered under `stats`."""
    row["stats"] = {key: row.pop(key) for key in _STATS}
    return row


def segment_condition(segment_type: str, segment_value: int, now: datetime):
    """The SQL condition of a segment, evaluated at `now`."""
    if segment_type == SegmentType.INACTIVE_DAYS:
        return customers.c.last_active_at < now - timedelta(days=segment_value)
    return customers.c.total_spend_cents >= segment_value


class CampaignQueries(QueriesBase):
    """Campaigns, audiences and outreach, always filtered by the caller's restaurant (`scope`)."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.rules = SegmentQueries(engine)  # the audiences of campaigns with a rule
        self.series = SeriesQueries(engine)  # recurring campaigns: occurrences, cooldown

    def campaign(self, campaign_id: UUID, scope: UUID | None) -> dict | None:
        row = self._one_by_id(_CAMPAIGN_BY_ID, campaign_id, scope)
        return None if row is None else with_stats(row)

    def campaigns(self, scope: UUID | None, restaurant_id: UUID | None, page: int, page_size: int) -> Page:
        query = self._scoped(select(*_campaign_columns).select_from(_campaigns_from), campaigns.c.restaurant_id, scope)
        if restaurant_id is not None:
            query = query.where(campaigns.c.restaurant_id == restaurant_id)
        result = self._page(query, (campaigns.c.created_at.desc(), campaigns.c.id.desc()), page, page_size)
        for item in result.items:
            with_stats(item)
        return result

    def outreach(self, outreach_id: UUID, scope: UUID | None) -> dict | None:
        return self._one_by_id(_OUTREACH_BY_ID, outreach_id, scope)

    def outreach_list(
        self,
        scope: UUID | None,
        campaign_id: UUID | None,
        status: str | None,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page:
        """One page of outreach records: two queries (count and page), whatever the page size."""
        return self._outreach_page(scope, campaign_id, status, page, page_size, after=after)

    def campaign_outreach(
        self,
        campaign_id: UUID,
        scope: UUID | None,
        status: str | None,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page | None:
        """One page of a campaign's outreach records; None if the campaign is not visible.

        The count is the campaign's (kept by the projection with the records, in one
        transaction), not a count of up to an audience's worth of rows on every page."""
        counts = self._one_by_id(_OUTREACH_COUNTS, campaign_id, scope)
        if counts is None:
            return None
        count = counts[status] if status is not None else sum(counts.values())
        # The campaign is of `scope`, so are its records: the page is found by campaign alone.
        return self._outreach_page(None, campaign_id, status, page, page_size, count, after)

    def _outreach_page(
        self,
        scope: UUID | None,
        campaign_id: UUID | None,
        status: str | None,
        page: int,
        page_size: int,
        count: int | None = None,
        after: str | None = None,
    ) -> Page:
        given = {"scope": scope, "campaign_id": campaign_id, "status": status}

        def query() -> Select:
            query = select(outreach_events)
            for name, value in given.items():
                if value is not None:
                    column = outreach_events.c.restaurant_id if name == "scope" else outreach_events.c[name]
                    query = query.where(column == bindparam(name))
            return query

        shape = ("outreach", *(value is None for value in given.values()))
        order = (outreach_events.c.created_at.desc(), outreach_events.c.id.desc())
        listed = Listed(shape, query, given)
        return self._page_then_join(listed, order, page, page_size, _outreach_page_rows, count, after)

    def audience_preview(
        self, restaurant_id: UUID, details: dict, now: datetime, sample: int = 5
    ) -> tuple[int, list[dict]]:
        """How many customers would receive a campaign with these (checked) settings if it
        started now (the segment's, the unsubscribed left out, as the audience will), and a few
        of them to render messages for."""
        rule = self._rule_of(details, restaurant_id)
        if rule is not None:
            subscribed = Condition(Field.EMAIL_CONSENT, Op.EQ, EmailConsent.SUBSCRIBED.value)
            page = self.rules.members(None, restaurant_id, All((rule, subscribed)), now, 1, sample)
            return page.count, page.items
        query = (
            self._audience_query(restaurant_id, details["segment_type"], details["segment_value"], now)
            .where(customers.c.email_consent != EmailConsent.UNSUBSCRIBED)
            .add_columns(customers.c.first_name, customers.c.last_name, restaurants.c.name.label("restaurant_name"))
            .join_from(customers, restaurants, restaurants.c.id == customers.c.restaurant_id, isouter=True)
        )
        rows = self._page(query, (customers.c.id,), 1, sample)
        return rows.count, rows.items

    def rule_members_now(self, campaign: dict, now: datetime) -> dict[bool, int] | None:
        """For a campaign with a rule (its own or a saved segment's), its restaurant's customers
        who match it now, counted by whether they unsubscribed; None for a shorthand (or a saved
        segment since deleted: nobody matches it)."""
        try:
            rule = self._rule_of(campaign, campaign["restaurant"])
        except InvalidInput:
            return {False: 0, True: 0}
        if rule is None:
            return None
        counts = {}
        for unsubscribed, consent in ((False, EmailConsent.SUBSCRIBED), (True, EmailConsent.UNSUBSCRIBED)):
            wanted = Condition(Field.EMAIL_CONSENT, Op.EQ, consent.value)
            counts[unsubscribed] = self.rules.count(campaign["restaurant"], All((rule, wanted)), now)["count"]
        return counts

    def _rule_of(self, details: dict, restaurant_id: UUID) -> Rule | None:
        """The rule of a campaign's settings: its own, or its saved segment's now (InvalidInput
        if the restaurant has no such segment); None for a shorthand."""
        if details["segment_type"] == SegmentType.RULE:
            return parse_rule(details["segment_rule"], "segment_rule")
        if details["segment_type"] == SegmentType.SAVED:
            query = select(segments.c.rule).where(
                segments.c.id == details["segment_id"], segments.c.restaurant_id == restaurant_id
            )
            with self.engine.connect() as conn:
                rule = conn.execute(query).scalar()
            if rule is None:
                raise InvalidInput("segment", "no such segment in this restaurant")
            return parse_rule(rule)
        return None

    def preview(self, details: dict, restaurant_id: UUID, now: datetime) -> dict:
        """The audience of a campaign with these settings in the restaurant now, and its subject
        and message rendered for a few of them (checked first: invalid settings raise InvalidInput)."""
        details = validated_details({"subject": DEFAULT_SUBJECT, **details})
        count, sample = self.audience_preview(restaurant_id, details, now)
        return {
            "audience": count,
            "samples": [
                {
                    "customer": row["id"],
                    "subject": templates.render(details["subject"], row),
                    "message": templates.render(details["message_template"], row),
                }
                for row in sample
            ],
        }

    def audience(
        self,
        restaurant_id: UUID,
        segment_type: str,
        segment_value: int,
        started_at: datetime,
        rule: dict | None = None,
    ) -> tuple[list[UUID], int]:
        """The campaign's audience: the customers registered before the start, not deleted before
        it, who were in the segment at the start (counting visits made up to the start) and have
        not unsubscribed; and how many were left out as unsubscribed. `rule`: the rule its start
        fixed (Campaign.Started), else the shorthand segment_type/value."""
        if rule is not None:
            return self.rules.audience(restaurant_id, parse_rule(rule), started_at)
        before_start = (visits.c.customer_id == customers.c.id) & (visits.c.visited_at <= started_at)
        if segment_type == SegmentType.INACTIVE_DAYS:
            last_visit = select(func.max(visits.c.visited_at)).where(before_start).scalar_subquery()
            in_segment = func.coalesce(last_visit, customers.c.created_at) < started_at - timedelta(days=segment_value)
        else:
            spend = select(func.coalesce(func.sum(visits.c.spend_cents), 0)).where(before_start).scalar_subquery()
            in_segment = spend >= segment_value
        query = select(customers.c.id, UNSUBSCRIBED).where(
            customers.c.restaurant_id == restaurant_id,
            customers.c.created_at <= started_at,
            customers.c.deleted_at.is_(None) | (customers.c.deleted_at > started_at),
            in_segment,
        )
        return audience_of(self.engine, query)

    def audience_ids(
        self, restaurant_id: UUID, segment_type: str, segment_value: int, started_at: datetime
    ) -> list[UUID]:
        """The ids of `audience`."""
        return self.audience(restaurant_id, segment_type, segment_value, started_at)[0]

    def recipients(self, customer_ids: list[UUID]) -> dict[UUID, dict]:
        """Address, names and consent of these customers, and their restaurant's name, frequency
        cap, time zone and quiet hours (deleted customers are absent).

        Read by primary key only, deleted ones dropped here: with the condition in SQL, a table
        without fresh statistics may be read through a partial index of every live customer."""
        with self.engine.connect() as conn:
            result = conn.execute(_RECIPIENTS, {"ids": customer_ids})
            names = tuple(result.keys())
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        return {row["id"]: row for row in rows if row.pop("deleted_at") is None}

    def unsubscribed(self, customer_ids: list[UUID]) -> set[UUID]:
        """Which of these customers have unsubscribed (by primary key, as `recipients`)."""
        if not customer_ids:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(_CONSENTS, {"ids": customer_ids}).fetchall()
        return {id for id, consent in rows if consent == EmailConsent.UNSUBSCRIBED}

    def status_counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Outreach records by status (every campaign's), and campaigns by status, for metrics."""
        outreach = select(*(func.coalesce(func.sum(campaigns.c[status]), 0) for status in OutreachStatus))
        by_status = select(campaigns.c.status, func.count()).group_by(campaigns.c.status)
        with self.engine.connect() as conn:
            totals = conn.execute(outreach).one()
            counted = dict(conn.execute(by_status).all())
        return {str(s): int(t) for s, t in zip(OutreachStatus, totals, strict=True)}, counted

    def campaigns_needing_work(self, idle_since: datetime | None = None) -> list[tuple[UUID, bool, list[int]]]:
        """Running campaigns as (id, audience resolved?, unfinished batch numbers).

        With `idle_since`, only those whose outreach has not progressed since then.
        """
        query = select(campaigns.c.id, campaigns.c.audience).where(campaigns.c.status == CampaignStatus.RUNNING)
        if idle_since is not None:
            query = query.where(campaigns.c.progressed_at < idle_since)
        with self.engine.connect() as conn:
            running = conn.execute(query).all()
            result = []
            for campaign_id, audience in running:
                batches = conn.execute(
                    select(campaign_batches.c.number)
                    .where(campaign_batches.c.campaign_id == campaign_id, campaign_batches.c.finished.is_(False))
                    .order_by(campaign_batches.c.number)
                ).scalars()
                result.append((campaign_id, audience is not None, list(batches)))
        return result

    def quiet_hours_of(self, campaign_ids: list[UUID]) -> dict[UUID, QuietHours]:
        """The quiet hours of these campaigns' restaurants (those without any are absent)."""
        if not campaign_ids:
            return {}
        query = (
            select(campaigns.c.id, restaurants.c.quiet_hours_start)
            .add_columns(restaurants.c.quiet_hours_end, restaurants.c.timezone)
            .select_from(campaigns.join(restaurants, restaurants.c.id == campaigns.c.restaurant_id))
            .where(campaigns.c.id.in_(campaign_ids), restaurants.c.quiet_hours_start.is_not(None))
        )
        with self.engine.connect() as conn:
            return {row.id: QuietHours.of(*row[1:]) for row in conn.execute(query)}

    def due_campaigns(self, now: datetime, limit: int = 100) -> list[UUID]:
        """Scheduled campaigns whose time has come by `now`, the longest due first."""
        with self.engine.connect() as conn:
            return list(conn.execute(self.due_campaigns_query(now, limit)).scalars())

    @staticmethod
    def due_campaigns_query(now: datetime, limit: int = 100) -> Select:
        """The query of `due_campaigns`: a range of the (status, scheduled_for) index."""
        return (
            select(campaigns.c.id)
            .where(campaigns.c.status == CampaignStatus.SCHEDULED, campaigns.c.scheduled_for <= now)
            .order_by(campaigns.c.scheduled_for)
            .limit(limit)
        )

    def _audience_query(self, restaurant_id: UUID, segment_type: str, segment_value: int, now: datetime) -> Select:
        return select(customers.c.id).where(
            customers.c.restaurant_id == restaurant_id, ACTIVE, segment_condition(segment_type, segment_value, now)
        )
