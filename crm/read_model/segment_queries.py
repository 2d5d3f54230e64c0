"""The customers a segment rule selects: counted with a sample, listed page by page, and a
campaign's audience as of its start."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select

from crm.read_model.queries import ACTIVE, Page, QueriesBase, _customer_columns, _customers_page_rows
from crm.read_model.segment_sql import matching
from crm.read_model.tables import customers
from crm.write_model.segment_rules import Rule
from crm.write_model.vocabulary import EmailConsent

SAMPLE_SIZE = 5
# The customers list's columns (as `Queries.customers` reads them), newest first.
_OWN_COLUMNS = (customers.c.id, customers.c.restaurant_id, *_customer_columns[3:])
_ORDER = (customers.c.created_at.desc(), customers.c.id.desc())


class SegmentQueries(QueriesBase):
    """Segment rules evaluated over a restaurant's customers (deleted ones are never members)."""

    def count(self, restaurant_id: UUID, rule: Rule, now: datetime) -> dict:
        """How many of the restaurant's customers match `rule` at `now`, and the newest few of
        them (rows as `Queries.customers` gives them)."""
        page = self.members(None, restaurant_id, rule, now, 1, SAMPLE_SIZE)
        return {"count": page.count, "sample": page.items}

    def members(
        self,
        scope: UUID | None,
        restaurant_id: UUID,
        rule: Rule,
        now: datetime,
        page: int,
        page_size: int,
        after: str | None = None,
    ) -> Page:
        """One page of the customers who match `rule` at `now`, newest first, paginated as
        `Queries.customers` (a page number, or the cursor `after` of the page before)."""
        query = self._scoped(
            matching(rule, restaurant_id, now, *_OWN_COLUMNS).where(ACTIVE), customers.c.restaurant_id, scope
        )
        count = None if after is not None else self._count(query)
        return self._page_then_join(query, _ORDER, page, page_size, _customers_page_rows, count, after)

    def audience(self, restaurant_id: UUID, rule: Rule, started_at: datetime) -> tuple[list[UUID], int]:
        """A campaign's audience, as `CampaignQueries.audience` resolves it for a seed segment:
        the customers registered by the start, not deleted before it, who matched `rule` at the
        start (counting only what had happened by then) and have not unsubscribed; and how many
        were left out as unsubscribed."""
        query = matching(rule, restaurant_id, started_at, customers.c.id, customers.c.email_consent, as_of=True).where(
            customers.c.created_at <= started_at,
            customers.c.deleted_at.is_(None) | (customers.c.deleted_at > started_at),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(customers.c.id)).all()
        ids = [row.id for row in rows if row.email_consent != EmailConsent.UNSUBSCRIBED]
        return ids, len(rows) - len(ids)

    def _count(self, query) -> int:
        # Counted apart from the page: the count needs no order, and joins grouped windows by hash.
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
