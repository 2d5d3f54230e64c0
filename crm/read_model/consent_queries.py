"""What is held about one person, for them to take away (GDPR access and portability), and their
consent history."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select

from crm.read_model.campaign_queries import _outreach_columns, _outreach_from
from crm.read_model.pages import _row
from crm.read_model.queries import Queries
from crm.read_model.tables import consent_changes, outreach_events, visits


class ConsentQueries(Queries):
    """Reads of one customer's consent and everything held about them (the profile as
    `Queries.customer` shows it)."""

    def consent_history(self, customer_id: UUID) -> list[dict]:
        """Every change of the customer's consent, oldest first (registration: subscribed)."""
        query = (
            select(consent_changes.c.email_consent, consent_changes.c.source, consent_changes.c.changed_at)
            .where(consent_changes.c.customer_id == customer_id)
            .order_by(consent_changes.c.version)
        )
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def customer_export(self, customer_id: UUID, scope: UUID | None, now: datetime) -> dict | None:
        """The profile, consent history, visits and outreach records of a customer; None if the
        customer is unknown, deleted, erased or of another restaurant."""
        profile = self.customer(customer_id, scope)
        if profile is None:
            return None
        held_visits = (
            select(visits.c.id, visits.c.visited_at, visits.c.spend_cents)
            .where(visits.c.customer_id == customer_id)
            .order_by(visits.c.visited_at, visits.c.id)
        )
        outreach = (
            select(*_outreach_columns)
            .select_from(_outreach_from)
            .where(outreach_events.c.customer_id == customer_id)
            .order_by(outreach_events.c.created_at, outreach_events.c.id)
        )
        with self.engine.connect() as conn:
            held = {
                "visits": [_row(row) for row in conn.execute(held_visits)],
                "outreach": [_row(row) for row in conn.execute(outreach)],
            }
        return {
            "exported_at": now,
            "customer": profile,
            "consent_history": self.consent_history(customer_id),
            **held,
        }
