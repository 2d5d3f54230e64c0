"""Outreach: one message of one campaign to one customer, and its audience batches."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from crm.write_model.base import CrmAggregate
from crm.write_model.vocabulary import TERMINAL_OUTREACH, OutreachStatus


def outreach_id(campaign_id: UUID, customer_id: UUID) -> UUID:
    """One outreach per campaign and customer, whoever creates it and however often."""
    return uuid5(campaign_id, f"outreach:{customer_id}")


def batch_id(campaign_id: UUID, number: int) -> UUID:
    return uuid5(campaign_id, f"audience-batch:{number}")


class AudienceBatch(CrmAggregate):
    """Up to BATCH_SIZE customers of a campaign's audience, fixed when the audience is resolved."""

    class Planned(CrmAggregate.Created):
        campaign_id: UUID
        number: int
        customer_ids: list[UUID]

        def apply(self, batch: AudienceBatch) -> None:
            batch.campaign_id = self.campaign_id
            batch.number = self.number
            batch.customer_ids = list(self.customer_ids)
            batch.outreach_created = False

    class OutreachCreated(CrmAggregate.Event):
        def apply(self, batch: AudienceBatch) -> None:
            batch.outreach_created = True

    @classmethod
    def plan(cls, campaign_id: UUID, number: int, customer_ids: list[UUID], actor: str, at: datetime) -> AudienceBatch:
        return cls._create(
            cls.Planned,
            id=batch_id(campaign_id, number),
            campaign_id=campaign_id,
            number=number,
            customer_ids=customer_ids,
            actor=actor,
            timestamp=at,
        )

    def mark_outreach_created(self, actor: str, at: datetime) -> None:
        if not self.outreach_created:
            self.trigger_event(self.OutreachCreated, actor=actor, timestamp=at)


class Outreach(CrmAggregate):
    """queued -> sent | failed | skipped (terminal states never change again)."""

    class Queued(CrmAggregate.Created):
        campaign_id: UUID
        customer_id: UUID
        restaurant_id: UUID
        channel: str

        def apply(self, outreach: Outreach) -> None:
            outreach.campaign_id = self.campaign_id
            outreach.customer_id = self.customer_id
            outreach.restaurant_id = self.restaurant_id
            outreach.channel = self.channel
            outreach.status = OutreachStatus.QUEUED
            outreach.attempts = 0
            outreach.error_message = None

    class Sent(CrmAggregate.Event):
        attempts: int

        def apply(self, outreach: Outreach) -> None:
            outreach.status = OutreachStatus.SENT
            outreach.attempts = self.attempts

    class Failed(CrmAggregate.Event):
        attempts: int
        error: str

        def apply(self, outreach: Outreach) -> None:
            outreach.status = OutreachStatus.FAILED
            outreach.attempts = self.attempts
            outreach.error_message = self.error

    class Skipped(CrmAggregate.Event):
        reason: str

        def apply(self, outreach: Outreach) -> None:
            outreach.status = OutreachStatus.SKIPPED
            outreach.error_message = self.reason

    @classmethod
    def queue(cls, campaign_id: UUID, customer_id: UUID, restaurant_id: UUID, actor: str, at: datetime) -> Outreach:
        return cls._create(
            cls.Queued,
            id=outreach_id(campaign_id, customer_id),
            campaign_id=campaign_id,
            customer_id=customer_id,
            restaurant_id=restaurant_id,
            channel="email",
            actor=actor,
            timestamp=at,
        )

    id_for = staticmethod(outreach_id)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_OUTREACH

    def record_sent(self, attempts: int, actor: str, at: datetime) -> None:
        if not self.is_terminal:
            self.trigger_event(self.Sent, attempts=attempts, actor=actor, timestamp=at)

    def record_failed(self, attempts: int, error: str, actor: str, at: datetime) -> None:
        if not self.is_terminal:
            self.trigger_event(self.Failed, attempts=attempts, error=error[:500], actor=actor, timestamp=at)

    def skip(self, reason: str, actor: str, at: datetime) -> None:
        if not self.is_terminal:
            self.trigger_event(self.Skipped, reason=reason, actor=actor, timestamp=at)
