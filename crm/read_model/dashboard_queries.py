"""What the operator dashboard's pages show, one query per page. Operators see every restaurant.

Pages are clamped: a page number past the last page answers the last page, so a pager built from
the answer never points outside it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import Select, case, func, select
from sqlalchemy.engine import Engine

from crm.read_model.campaign_queries import (
    CampaignQueries,
    _campaign_columns,
    _campaigns_from,
    _outreach_columns,
    _outreach_from,
    segment_condition,
    with_stats,
)
from crm.read_model.pages import Page, QueriesBase, _row, _utc
from crm.read_model.queries import ACTIVE
from crm.read_model.sending_hours import waiting_for_sending_hours
from crm.read_model.tables import campaigns, consent_changes, customers, outreach_events, restaurants
from crm.write_model.vocabulary import (
    TERMINAL_OUTREACH,
    CampaignStatus,
    EmailConsent,
    OutreachStatus,
)

CAMPAIGN_STATUSES = tuple(CampaignStatus)
FINAL_STATUSES = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
OUTREACH_STATUSES = tuple(OutreachStatus)
MAX_RESTAURANT_CHOICES = 1000
MAX_CAMPAIGN_CHOICES = 1000
RATE_WINDOW = timedelta(seconds=10)  # a campaign's send rate is measured over its last sends
RATE_SAMPLE = 1000  # records read, at most, to find them
MIN_RATE_SAMPLE = 3  # sends in the window before a rate is shown


def last_page(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))


def progress_of(campaign: dict, now: datetime, recent: tuple[int, datetime | None] | None = None) -> dict:
    """How far a campaign (a row of `campaign` / `campaigns`) has gone: counts, percent, and while
    it runs, its send rate and the time left.

    The rate is measured over the sends of the last RATE_WINDOW (`recent`: how many, and when the
    first of them was), never since the start: a pause, or a resume, does not linger in it; and a
    stall shows at once, as the time since the first send grows with none after it.
    Failures and skips carry no time of their own: the rate of everything done is the send rate
    scaled by the share of sends among what is done. Without `recent`, or with too few sends in
    the window (just started or resumed, or everything failing), there is no rate and no estimate.
    """
    stats = campaign["stats"]
    audience = stats["audience"]
    done = sum(stats[status] for status in TERMINAL_OUTREACH)
    status = campaign["status"]
    if audience:
        percent = min(100, done * 100 // audience)
    else:  # not resolved yet (None), or an empty audience, which completes at once
        percent = 100 if status == CampaignStatus.COMPLETED else 0
    rate = eta = None
    if status == CampaignStatus.RUNNING and recent is not None:
        count, first = recent
        seconds = (now - _utc(first)).total_seconds() if first is not None else 0.0
        if count >= MIN_RATE_SAMPLE and seconds > 0:
            rate = (count - 1) / seconds  # n sends since the first: n - 1 intervals
            if audience is not None and stats[OutreachStatus.SENT]:
                eta = max(0, audience - done) / (rate * done / stats[OutreachStatus.SENT])
    return {
        "status": status,
        "final": status in FINAL_STATUSES,
        "retried_failed": campaign.get("failed_retried_at") is not None,
        "recurring": campaign.get("recurrence") is not None,  # a series runs as its occurrences only
        **stats,
        "done": done,
        "percent": percent,
        "rate": None if rate is None else round(rate, 2),
        "eta_seconds": None if eta is None else round(eta),
    }


def _percent_done():
    """A campaign's percent done, in SQL, as `progress_of` computes it."""
    done = campaigns.c.sent + campaigns.c.failed + campaigns.c.skipped
    completed = case((campaigns.c.status == CampaignStatus.COMPLETED, 100), else_=0)
    return case((campaigns.c.audience > 0, done * 100 / campaigns.c.audience), else_=completed)


def _contains(column, text: str):
    """`column` contains `text`, in any case (LIKE's wildcards in `text` taken literally)."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return func.lower(column).like(pattern, escape="\\")


CAMPAIGN_ORDERS = {
    "created": (campaigns.c.created_at.desc(), campaigns.c.id.desc()),
    "progress": (_percent_done().desc(), campaigns.c.created_at.desc(), campaigns.c.id.desc()),
}
_outreach_page_columns = (*_outreach_columns, customers.c.first_name, customers.c.last_name)
# A scheduled campaign's time is shown in its restaurant's time zone too; a running one may
# wait for the restaurant's sending hours.
_page_campaign_columns = (
    *_campaign_columns,
    restaurants.c.timezone.label("restaurant_timezone"),
    restaurants.c.quiet_hours_start,
    restaurants.c.quiet_hours_end,
)


class DashboardQueries(QueriesBase):
    """The questions the dashboard asks of the read model."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.campaign_queries = CampaignQueries(engine)  # a rule campaign's audience now

    def restaurant_choices(self) -> list[dict]:
        """Restaurants by name, for the filters and forms."""
        query = (
            select(restaurants.c.id, restaurants.c.name)
            .order_by(restaurants.c.name, restaurants.c.id)
            .limit(MAX_RESTAURANT_CHOICES)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def segment_choices(self) -> dict:
        """The segment builder's choices: restaurants by name, and the newest campaigns of every
        restaurant by name (for "received a campaign")."""
        newest = select(campaigns.c.id, campaigns.c.name, campaigns.c.restaurant_id.label("restaurant"))
        newest = newest.order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).limit(MAX_CAMPAIGN_CHOICES)
        with self.engine.connect() as conn:
            found = [_row(row) for row in conn.execute(newest)]
        chosen = sorted(found, key=lambda c: (c["name"].lower(), str(c["id"])))
        return {"restaurants": self.restaurant_choices(), "campaigns": chosen}

    def campaign_list(
        self,
        restaurant_id: UUID | None,
        status: str | None,
        page: int,
        page_size: int,
        now: datetime,
        name: str = "",
        order: str = "created",
    ) -> dict:
        """A page of campaigns (newest first, or most done first), each with its progress, and a
        draft with the audience that matches now; and the restaurants to filter by."""
        query = select(*_page_campaign_columns).select_from(_campaigns_from)
        if restaurant_id is not None:
            query = query.where(campaigns.c.restaurant_id == restaurant_id)
        if status is not None:
            query = query.where(campaigns.c.status == status)
        if name:
            query = query.where(_contains(campaigns.c.name, name))
        result = self._clamped_page(query, CAMPAIGN_ORDERS[order], page, page_size)
        for item in result.items:
            item["progress"] = {**progress_of(with_stats(item), now), "matching": self.matching_now(item, now)}
        return {"campaigns": result, "restaurants": self.restaurant_choices()}

    def campaign(self, campaign_id: UUID) -> dict | None:
        query = select(*_page_campaign_columns).select_from(_campaigns_from).where(campaigns.c.id == campaign_id)
        row = self._one(query)
        return None if row is None else with_stats(row)

    def matching_now(self, campaign: dict, now: datetime) -> dict | None:
        """A draft's (or scheduled campaign's) audience if it ran now: its restaurant's customers in
        its segment who have not unsubscribed (`count`), and those left out as unsubscribed; None
        for any other status (the audience is resolved once, when the campaign starts)."""
        if campaign["status"] not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            return None
        by_rule = self.campaign_queries.rule_members_now(campaign, now)
        if by_rule is not None:
            return {"count": by_rule[False], "unsubscribed": by_rule[True]}
        unsubscribed = customers.c.email_consent == EmailConsent.UNSUBSCRIBED
        query = (
            select(unsubscribed.label("unsubscribed"), func.count().label("count"))
            .where(
                customers.c.restaurant_id == campaign["restaurant"],
                ACTIVE,
                segment_condition(campaign["segment_type"], campaign["segment_value"], now),
            )
            .group_by(unsubscribed)
        )
        with self.engine.connect() as conn:
            counts = {bool(row.unsubscribed): row.count for row in conn.execute(query)}
        return {"count": counts.get(False, 0), "unsubscribed": counts.get(True, 0)}

    def recent_sends(
        self, campaign_id: UUID, now: datetime, since: datetime | None = None
    ) -> tuple[int, datetime | None]:
        """How many of the campaign's messages were sent in the last RATE_WINDOW (and `since`, its
        last start, resume or retry: a pause shorter than the window is not measured as slow
        sending), and when the first of them was, for its send rate.

        Read among the RATE_SAMPLE records created last (an index range, not every record of a
        large campaign): a batch's records are created when its sending begins, so the records
        sent lately are among them (except the failed ones of a retry, created long before)."""
        newest = (
            select(outreach_events.c.sent_at)
            .where(outreach_events.c.campaign_id == campaign_id, outreach_events.c.status == OutreachStatus.SENT)
            .order_by(outreach_events.c.created_at.desc(), outreach_events.c.id.desc())
            .limit(RATE_SAMPLE)
            .subquery()
        )
        window_from = now - RATE_WINDOW if since is None else max(now - RATE_WINDOW, _utc(since))
        query = select(func.count(), func.min(newest.c.sent_at)).where(newest.c.sent_at >= window_from)
        with self.engine.connect() as conn:
            count, first = conn.execute(query).one()
        return count, _utc(first)

    def progress(self, campaign_id: UUID, now: datetime) -> dict | None:
        """The campaign's progress (with its current send rate), a draft's audience now, and a
        running campaign's wait for its restaurant's sending hours."""
        campaign = self.campaign(campaign_id)
        return None if campaign is None else self._progress(campaign, now)

    def _progress(self, campaign: dict, now: datetime) -> dict:
        running = campaign["status"] == CampaignStatus.RUNNING
        recent = self.recent_sends(campaign["id"], now, campaign.get("sending_since")) if running else None
        return {
            **progress_of(campaign, now, recent),
            "matching": self.matching_now(campaign, now),
            "waiting": waiting_for_sending_hours(campaign, now),
        }

    def campaign_page(
        self, campaign_id: UUID, outreach_status: str | None, customer: str, page: int, page_size: int, now: datetime
    ) -> dict | None:
        """A campaign with its progress, a draft's audience now, a finished campaign's results,
        and a page of its outreach records, newest first (by the time each was queued, then id),
        of one status and of customers whose email or name contains `customer`."""
        campaign = self.campaign(campaign_id)
        if campaign is None:
            return None
        query = (
            select(*_outreach_page_columns)
            .select_from(_outreach_from)
            .where(outreach_events.c.campaign_id == campaign_id)
        )
        if outreach_status is not None:
            query = query.where(outreach_events.c.status == outreach_status)
        if customer:
            query = query.where(_contains(customers.c.search_text, customer))
        outreach = self._clamped_page(
            query, (outreach_events.c.created_at.desc(), outreach_events.c.id.desc()), page, page_size
        )
        return {
            "campaign": campaign,
            "progress": self._progress(campaign, now),
            "outreach": outreach,
            "skipped_by_reason": self._by_reason(campaign_id, OutreachStatus.SKIPPED),
            "results": self._results(campaign) if campaign["status"] in FINAL_STATUSES else None,
        }

    def _by_reason(self, campaign_id: UUID, status: str) -> list[dict]:
        query = (
            select(outreach_events.c.error_message.label("reason"), func.count().label("count"))
            .where(outreach_events.c.campaign_id == campaign_id, outreach_events.c.status == status)
            .group_by(outreach_events.c.error_message)
            .order_by(func.count().desc(), outreach_events.c.error_message)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def _results(self, campaign: dict) -> dict:
        """A finished campaign's results: failures by reason, and the unsubscribes it caused (its
        recipients who unsubscribed through the link in its message)."""
        caused = select(func.count(func.distinct(consent_changes.c.customer_id))).where(
            consent_changes.c.campaign_id == campaign["id"],
            consent_changes.c.email_consent == EmailConsent.UNSUBSCRIBED,
        )
        with self.engine.connect() as conn:
            unsubscribes = conn.execute(caused).scalar_one()
        return {
            "failed_by_reason": self._by_reason(campaign["id"], OutreachStatus.FAILED),
            "unsubscribes": unsubscribes,
        }

    def _clamped_page(self, query: Select, order_by: tuple, page: int, page_size: int) -> Page:
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            page = min(max(page, 1), last_page(count, page_size))
            rows = conn.execute(query.order_by(*order_by).limit(page_size).offset((page - 1) * page_size)).all()
        return Page(count=count, items=[_row(r) for r in rows], page=page, page_size=page_size)
