"""Read-only queries about recurring campaigns: a series' occurrences, and the cooldown that
keeps an occurrence from messaging whom an earlier one of its series messaged recently."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select

from crm.read_model.pages import QueriesBase, _row
from crm.read_model.tables import campaigns, outreach_events
from crm.write_model.vocabulary import OutreachStatus


class SeriesQueries(QueriesBase):
    """The occurrences of recurring campaigns (a campaign's `series_id` names its series)."""

    def without_cooldown(
        self, customer_ids: list[UUID], series_id: UUID | None, days: int | None, started_at: datetime
    ) -> tuple[list[UUID], int]:
        """An occurrence's audience `customer_ids` without those an earlier occurrence of its
        series messaged (a record sent) within `days` before its start; and how many that left
        out. No series or no days: all of them."""
        if series_id is None or not days or not customer_ids:
            return customer_ids, 0
        since = started_at - timedelta(days=days)
        # Occurrences that may have sent in the window: started before this one, not completed
        # before the window opened (by ix_campaigns_series_created, then each one's sent records
        # by ix_outreach_campaign_status).
        earlier = select(campaigns.c.id).where(
            campaigns.c.series_id == series_id,
            campaigns.c.started_at < started_at,
            or_(campaigns.c.completed_at.is_(None), campaigns.c.completed_at >= since),
        )
        messaged = select(outreach_events.c.customer_id).where(
            outreach_events.c.campaign_id.in_(earlier.scalar_subquery()),
            outreach_events.c.status == OutreachStatus.SENT,
            outreach_events.c.sent_at >= since,
            outreach_events.c.sent_at <= started_at,
        )
        with self.engine.connect() as conn:
            recent = set(conn.execute(messaged.distinct()).scalars())
        kept = [customer_id for customer_id in customer_ids if customer_id not in recent]
        return kept, len(customer_ids) - len(kept)

    def occurrences(self, series_id: UUID, limit: int = 20) -> list[dict]:
        """The series' latest occurrences, newest first: id, name, status, started_at and counts."""
        query = (
            select(
                campaigns.c.id,
                campaigns.c.name,
                campaigns.c.status,
                campaigns.c.started_at,
                campaigns.c.audience,
                campaigns.c.sent,
                campaigns.c.excluded_cooldown,
            )
            .where(campaigns.c.series_id == series_id)
            .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]
