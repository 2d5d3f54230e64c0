"""What the operator dashboard's pages show, one query per page. Operators see every restaurant.

Pages are clamped: a page number past the last page answers the last page, so a pager built from
the answer never points outside it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Select, func, select

from crm.read_model.campaign_queries import (
    _campaign_columns,
    _campaigns_from,
    _outreach_columns,
    _outreach_from,
    with_stats,
)
from crm.read_model.queries import ACTIVE, Page, QueriesBase, _customer_columns, _customers_from, _row, _utc
from crm.read_model.tables import campaigns, customers, outreach_events, restaurants, visits
from crm.write_model.vocabulary import TERMINAL_OUTREACH, CampaignStatus, OutreachStatus

CAMPAIGN_STATUSES = tuple(CampaignStatus)
FINAL_STATUSES = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
OUTREACH_STATUSES = tuple(OutreachStatus)
MAX_RESTAURANT_CHOICES = 1000


def last_page(count: int, page_size: int) -> int:
    return max(1, -(-count // page_size))


def progress_of(campaign: dict, now: datetime) -> dict:
    """How far a campaign (a row of `campaign` / `campaigns`) has gone: counts, percent, rate, ETA.

    The rate is outreach records finished (sent, failed or skipped) per second since the start,
    up to the completion (or now); the ETA divides what is left by it, while running.
    """
    stats = campaign["stats"]
    audience = stats["audience"]
    done = sum(stats[status] for status in TERMINAL_OUTREACH)
    status = campaign["status"]
    if audience:
        percent = min(100, done * 100 // audience)
    else:  # not resolved yet (None), or an empty audience, which completes at once
        percent = 100 if status == CampaignStatus.COMPLETED else 0
    started_at = _utc(campaign["started_at"])
    end = _utc(campaign["completed_at"]) or now
    elapsed = (end - started_at).total_seconds() if started_at else 0.0
    rate = done / elapsed if elapsed > 0 and done else 0.0
    remaining = max(0, (audience or 0) - done)
    eta = remaining / rate if status == CampaignStatus.RUNNING and audience is not None and rate > 0 else None
    return {
        "status": status,
        "final": status in FINAL_STATUSES,
        "retried_failed": campaign.get("failed_retried_at") is not None,
        **stats,
        "done": done,
        "percent": percent,
        "rate": round(rate, 2),
        "eta_seconds": None if eta is None else round(eta),
    }


class DashboardQueries(QueriesBase):
    """The questions the dashboard asks of the read model."""

    def restaurant_choices(self) -> list[dict]:
        """Restaurants by name, for the filters and forms."""
        query = (
            select(restaurants.c.id, restaurants.c.name)
            .order_by(restaurants.c.name, restaurants.c.id)
            .limit(MAX_RESTAURANT_CHOICES)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def campaign_list(
        self, restaurant_id: UUID | None, status: str | None, page: int, page_size: int, now: datetime
    ) -> dict:
        """A page of campaigns, newest first, each with its progress; and the restaurants to filter by."""
        query = select(*_campaign_columns).select_from(_campaigns_from)
        if restaurant_id is not None:
            query = query.where(campaigns.c.restaurant_id == restaurant_id)
        if status is not None:
            query = query.where(campaigns.c.status == status)
        result = self._clamped_page(query, (campaigns.c.created_at.desc(), campaigns.c.id.desc()), page, page_size)
        for item in result.items:
            item["progress"] = progress_of(with_stats(item), now)
        return {"campaigns": result, "restaurants": self.restaurant_choices()}

    def campaign(self, campaign_id: UUID) -> dict | None:
        query = select(*_campaign_columns).select_from(_campaigns_from).where(campaigns.c.id == campaign_id)
        row = self._one(query)
        return None if row is None else with_stats(row)

    def progress(self, campaign_id: UUID, now: datetime) -> dict | None:
        campaign = self.campaign(campaign_id)
        return None if campaign is None else progress_of(campaign, now)

    def campaign_page(
        self, campaign_id: UUID, outreach_status: str | None, page: int, page_size: int, now: datetime
    ) -> dict | None:
        """A campaign with its progress and a page of its outreach records (newest first)."""
        campaign = self.campaign(campaign_id)
        if campaign is None:
            return None
        query = (
            select(*_outreach_columns).select_from(_outreach_from).where(outreach_events.c.campaign_id == campaign_id)
        )
        if outreach_status is not None:
            query = query.where(outreach_events.c.status == outreach_status)
        outreach = self._clamped_page(
            query, (outreach_events.c.created_at.desc(), outreach_events.c.id.desc()), page, page_size
        )
        skipped = (
            select(outreach_events.c.error_message.label("reason"), func.count().label("count"))
            .where(outreach_events.c.campaign_id == campaign_id, outreach_events.c.status == OutreachStatus.SKIPPED)
            .group_by(outreach_events.c.error_message)
            .order_by(func.count().desc(), outreach_events.c.error_message)
        )
        with self.engine.connect() as conn:
            by_reason = [_row(row) for row in conn.execute(skipped)]
        return {
            "campaign": campaign,
            "progress": progress_of(campaign, now),
            "outreach": outreach,
            "skipped_by_reason": by_reason,
        }

    def customer_search(self, restaurant_id: UUID | None, text: str, page: int, page_size: int) -> dict:
        """Customers of one restaurant whose email or name contains `text` (any case), newest first.

        Without a restaurant, the first one by name is searched; the answer says which.
        """
        choices = self.restaurant_choices()
        if restaurant_id is None and choices:
            restaurant_id = choices[0]["id"]
        query = (
            select(*_customer_columns)
            .select_from(_customers_from)
            .where(ACTIVE, customers.c.restaurant_id == restaurant_id)
        )
        if text:
            pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(customers.c.search_text.like(pattern, escape="\\"))
        result = self._clamped_page(query, (customers.c.created_at.desc(), customers.c.id.desc()), page, page_size)
        return {"customers": result, "restaurants": choices, "restaurant_id": restaurant_id}

    def customer_page(self, customer_id: UUID, page: int, page_size: int) -> dict | None:
        """A customer with a page of their visits, most recent first."""
        customer = self._one(
            select(*_customer_columns).select_from(_customers_from).where(customers.c.id == customer_id, ACTIVE)
        )
        if customer is None:
            return None
        query = select(visits.c.id, visits.c.visited_at, visits.c.spend_cents).where(
            visits.c.customer_id == customer_id
        )
        result = self._clamped_page(query, (visits.c.visited_at.desc(), visits.c.id.desc()), page, page_size)
        return {"customer": customer, "visits": result}

    def _clamped_page(self, query: Select, order_by: tuple, page: int, page_size: int) -> Page:
        with self.engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
            page = min(max(page, 1), last_page(count, page_size))
            rows = conn.execute(query.order_by(*order_by).limit(page_size).offset((page - 1) * page_size)).all()
        return Page(count=count, items=[_row(r) for r in rows], page=page, page_size=page_size)
