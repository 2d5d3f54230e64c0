"""Outreach: one message of one campaign to one customer, and its audience batches.

A batch holds the outreach of its customers: opening it queues a record for each (one
`Opened` event), and each flush of outcomes is one `OutcomesRecorded` event naming every
recipient's status, attempts, error and time. Every recipient keeps an individual record (the
read model's `outreach_events` rows) at a fraction of the events one aggregate per message
took. Logs written before hold one `Outreach` aggregate per message (`Queued` then an
outcome) in batches marked `OutreachCreated`: those are read, and finished, as they are.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.stable_ids import uuid5
from crm.write_model.vocabulary import TERMINAL_OUTREACH, OutreachStatus


def outreach_id(campaign_id: UUID, customer_id: UUID) -> UUID:
    """One outreach per campaign and customer, whoever creates it and however often."""
    return uuid5(campaign_id, f"outreach:{customer_id}")


def batch_id(campaign_id: UUID, number: int) -> UUID:
    return uuid5(campaign_id, f"audience-batch:{number}")


class HeldBatch:
    """The batch a set of records was read from, shared by them, while it matches the log as far
    as this process knows: cleared while a save of it is under way, so that one that failed (and
    left the object ahead of the log) is never built on."""

    __slots__ = ("batch",)

    def __init__(self, batch: AudienceBatch | None = None):
        self.batch = batch


class OutreachRecord:
    """One recipient's outreach in a batch: where it stands, and the outcome to record next.

    The same interface as the `Outreach` aggregate of earlier logs (`record_sent`,
    `record_failed`, `skip`, `is_terminal`): a terminal record takes no further outcome."""

    def __init__(
        self,
        campaign_id: UUID,
        number: int,
        customer_id: UUID,
        outcome: dict | None = None,
        held: HeldBatch | None = None,
        attempts_before: int = 0,
    ):
        self.id = outreach_id(campaign_id, customer_id)
        self.held = held or HeldBatch()
        self.campaign_id = campaign_id
        self.number = number
        self.customer_id = customer_id
        self.status = outcome["status"] if outcome else OutreachStatus.QUEUED
        # Attempts of an earlier round: a failure queued again (retry-failed) counts on from them.
        self.attempts_before = attempts_before
        self.attempts = outcome["attempts"] if outcome else attempts_before
        self.error_message = outcome["error"] if outcome else None
        self.outcome: dict | None = None  # recorded here, not yet saved
        self.actor: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_OUTREACH

    def record_sent(self, attempts: int, actor: str, at: datetime) -> None:
        self._settle(OutreachStatus.SENT, attempts, None, actor, at)

    def record_failed(self, attempts: int, error: str, actor: str, at: datetime) -> None:
        self._settle(OutreachStatus.FAILED, attempts, error[:500], actor, at)

    def skip(self, reason: str, actor: str, at: datetime) -> None:
        self._settle(OutreachStatus.SKIPPED, self.attempts, reason, actor, at)

    def _settle(self, status: str, attempts: int, error: str | None, actor: str, at: datetime) -> None:
        if self.is_terminal:
            return
        self.status, self.attempts, self.error_message, self.actor = status, attempts, error, actor
        self.outcome = {
            "customer_id": self.customer_id,
            "status": str(status),
            "attempts": attempts,
            "error": error,
            "at": at,
        }


class AudienceBatch(CrmAggregate):
    """Up to BATCH_SIZE customers of a campaign's audience, fixed when the audience is resolved,
    and, once opened, the outreach to each of them."""

    class Planned(CrmAggregate.Created):
        campaign_id: UUID
        number: int
        customer_ids: list[UUID]

        def apply(self, batch: AudienceBatch) -> None:
            batch.campaign_id = self.campaign_id
            batch.number = self.number
            batch.customer_ids = list(self.customer_ids)
            batch.outreach_created = False
            batch.opened = False
            batch.outcomes = {}

    class FailedRequeued(CrmAggregate.Event):
        """Failed outreach queued again (the campaign's retry-failed): per recipient
        `customer_id` and the `attempts` made so far."""

        campaign_id: UUID
        requeued: list[dict]

        def apply(self, batch: AudienceBatch) -> None:
            attempts_before = batch.__dict__.setdefault("attempts_before", {})
            for item in self.requeued:
                batch.outcomes.pop(item["customer_id"], None)
                attempts_before[item["customer_id"]] = item["attempts"]

    class OutreachCreated(CrmAggregate.Event):
        """Earlier logs: one `Outreach` aggregate per customer was queued with this."""

        def apply(self, batch: AudienceBatch) -> None:
            batch.outreach_created = True

    class Opened(CrmAggregate.Event):
        """A queued outreach record for each customer of the batch (ids from `outreach_id`)."""

        campaign_id: UUID
        restaurant_id: UUID
        channel: str
        customer_ids: list[UUID]

        def apply(self, batch: AudienceBatch) -> None:
            batch.outreach_created = True
            batch.opened = True

    class OutcomesRecorded(CrmAggregate.Event):
        """What happened to some of the batch's outreach: per recipient `customer_id`, `status`
        (sent, failed, skipped), `attempts`, `error` (the reason of a failure or skip), `at`."""

        campaign_id: UUID
        outcomes: list[dict]

        def apply(self, batch: AudienceBatch) -> None:
            for outcome in self.outcomes:
                batch.outcomes[outcome["customer_id"]] = outcome

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
        """Earlier logs' opening (kept for their tests and readers; new batches are `open`ed)."""
        if not self.outreach_created:
            self.trigger_event(self.OutreachCreated, actor=actor, timestamp=at)

    def open(self, restaurant_id: UUID, actor: str, at: datetime) -> None:
        """Queue an outreach record for each customer, once."""
        if not self.outreach_created:
            self.trigger_event(
                self.Opened,
                campaign_id=self.campaign_id,
                restaurant_id=restaurant_id,
                channel="email",
                customer_ids=self.customer_ids,
                actor=actor,
                timestamp=at,
            )

    def records(self) -> list[OutreachRecord]:
        """Every customer's outreach record as it stands (an opened batch)."""
        held = HeldBatch(self)
        before = self.__dict__.get("attempts_before", {})
        return [
            OutreachRecord(self.campaign_id, self.number, c, self.outcomes.get(c), held, before.get(c, 0))
            for c in self.customer_ids
        ]

    def requeue_failed(self, actor: str, at: datetime) -> int:
        """Queue the failed outreach of an opened batch again; how many."""
        failed = [
            {"customer_id": customer_id, "attempts": outcome["attempts"]}
            for customer_id, outcome in self.outcomes.items()
            if outcome["status"] == OutreachStatus.FAILED
        ]
        if self.opened and failed:
            self.trigger_event(
                self.FailedRequeued, campaign_id=self.campaign_id, requeued=failed, actor=actor, timestamp=at
            )
            return len(failed)
        return 0

    def record_outcomes(self, records: list[OutreachRecord]) -> None:
        """Record these records' new outcomes, skipping any recipient already final here (a
        flush repeated after a crash or by a redelivered task records nothing twice)."""
        by_actor: dict[str, list[dict]] = {}
        for record in records:
            if record.outcome is not None and record.customer_id not in self.outcomes:
                by_actor.setdefault(record.actor, []).append(record.outcome)
        for actor, outcomes in by_actor.items():
            at = max(outcome["at"] for outcome in outcomes)
            self.trigger_event(
                self.OutcomesRecorded, campaign_id=self.campaign_id, outcomes=outcomes, actor=actor, timestamp=at
            )


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
