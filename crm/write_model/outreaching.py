"""The workers' commands: a started campaign's audience, its batches' outreach records and their
outcomes, and the frequency cap's reservations."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from crm.write_model.campaigns import Campaign
from crm.write_model.commands import Commands, Recorded
from crm.write_model.contact_allowances import ContactAllowance, contact_allowance_id
from crm.write_model.outreach import AudienceBatch, Outreach, OutreachRecord, batch_id
from crm.write_model.vocabulary import BATCH_SIZE, WORKER_ACTOR, CampaignStatus


class OutreachCommands(Commands):
    """Commands the workers give while a campaign sends."""

    def campaign(self, campaign_id: UUID, known: Campaign | None = None) -> Campaign:
        """The campaign's current state; with `known`, only events newer than it are read."""
        return self._campaign(campaign_id, None) if known is None else self._refreshed(known)

    def plan_audience(
        self, campaign_id: UUID, customer_ids: list[UUID], excluded_unsubscribed: int = 0, excluded_cooldown: int = 0
    ) -> Recorded:
        """Fix the audience in batches of BATCH_SIZE, once: a second resolution changes nothing.
        `excluded_unsubscribed`, `excluded_cooldown`: how many in the segment were left out as
        unsubscribed, and (an occurrence's) as messaged by its series within the cooldown."""

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, None)
            if campaign.audience_resolved or campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
                return Recorded(campaign_id)
            at = self.clock()
            chunks = [customer_ids[i : i + BATCH_SIZE] for i in range(0, len(customer_ids), BATCH_SIZE)]
            batches = [AudienceBatch.plan(campaign_id, n, chunk, WORKER_ACTOR, at) for n, chunk in enumerate(chunks)]
            campaign.resolve_audience(
                len(customer_ids), len(batches), WORKER_ACTOR, at, excluded_unsubscribed, excluded_cooldown
            )
            return self._save_recorded(campaign_id, campaign, *batches)

        return self._run(attempt, campaign_id)

    def open_batch(
        self, campaign_id: UUID, number: int, campaign: Campaign | None = None
    ) -> list[OutreachRecord | Outreach]:
        """The batch's outreach records not yet final, queued (one event) on first opening.
        `campaign`: the campaign as the caller holds it (its restaurant never changes)."""
        batch = self.repository.get(batch_id(campaign_id, number))
        if not batch.outreach_created:
            restaurant_id = (campaign or self._campaign(campaign_id, None)).restaurant_id
            batch.open(restaurant_id, WORKER_ACTOR, self.clock())
            try:
                self.save(batch)
            except IntegrityError:  # another worker opened it first: take theirs
                batch = self.repository.get(batch.id)
        if not batch.opened:  # opened by an earlier version: one Outreach aggregate per customer
            legacy = [self.repository.get(Outreach.id_for(campaign_id, c)) for c in batch.customer_ids]
            return [r for r in legacy if not r.is_terminal]
        return [r for r in batch.records() if not r.is_terminal]

    def record_outcomes(self, records: list[OutreachRecord | Outreach]) -> Recorded:
        """Save what happened to these records: one event per batch they belong to, all in one
        save (records of earlier logs' batches: one event each)."""
        legacy = [r for r in records if isinstance(r, Outreach)]
        by_batch: dict[tuple[UUID, int], list[OutreachRecord]] = {}
        for record in records:
            if isinstance(record, OutreachRecord) and record.outcome is not None:
                by_batch.setdefault((record.campaign_id, record.number), []).append(record)

        def attempt() -> Recorded:
            batches = []
            for (campaign_id, number), batch_records in by_batch.items():
                held = batch_records[0].held
                if held.batch is None:
                    batch = self.repository.get(batch_id(campaign_id, number))
                else:  # as its records were read: decoding every customer id again is the costly part
                    batch = self._refreshed(held.batch)
                held.batch = None  # until saved: a failed save leaves the object ahead of the log
                batch.record_outcomes(batch_records)
                batches.append((held, batch))
            recorded = self._save_recorded(None, *(batch for _, batch in batches))
            for held, batch in batches:
                held.batch = batch
            return recorded

        recorded = self._run(attempt) if by_batch else Recorded(None)
        if not legacy:
            return recorded
        older = self._record_legacy_outcomes(legacy)
        return Recorded(None, max(recorded.position, older.position), recorded.topics | older.topics)

    def _record_legacy_outcomes(self, records: list[Outreach]) -> Recorded:
        try:
            return self._save_recorded(None, *records)
        except IntegrityError:
            # Someone else recorded some of them (a redelivered task): keep only our new facts.
            recordings = []
            for record in records:
                fresh = self.repository.get(record.id)
                for event in record.collect_events():
                    if not fresh.is_terminal:
                        fresh.trigger_event(type(event), **_payload(event))
                recordings += self.save(fresh)
            return Recorded.of(None, recordings)

    def finish_batch(self, campaign_id: UUID, number: int, known: Campaign | None = None) -> Recorded:
        """Mark a batch finished; the campaign completes with its last batch. `known`: the
        campaign as the caller holds it (brought up to date, not read again)."""

        def attempt() -> Recorded:
            nonlocal known
            campaign = self.campaign(campaign_id, known)
            known = None  # a failed save would leave it ahead of the log: the next try loads it
            campaign.finish_batch(number, WORKER_ACTOR, self.clock())
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)

    def reserve_contact(
        self, restaurant_id: UUID, customer_id: UUID, campaign_id: UUID, frequency_cap: tuple[int, int]
    ) -> bool:
        """Reserve a message of this campaign to this customer under the restaurant's frequency
        cap (messages, days); False if the cap is reached (the message must be skipped)."""
        allowance_id = contact_allowance_id(restaurant_id, customer_id)

        def attempt() -> bool:
            try:
                allowance = self.repository.get(allowance_id)
            except AggregateNotFoundError:
                allowance = ContactAllowance.start(restaurant_id, customer_id, WORKER_ACTOR, self.clock())
            held = allowance.reserve(campaign_id, *frequency_cap, WORKER_ACTOR, self.clock())
            self.save(allowance)
            return held

        return self._run(attempt, allowance_id)

    def release_contact(self, restaurant_id: UUID, customer_id: UUID, campaign_id: UUID) -> None:
        """Give back a reservation whose message was not delivered."""
        allowance_id = contact_allowance_id(restaurant_id, customer_id)

        def attempt() -> None:
            try:
                allowance = self.repository.get(allowance_id)
            except AggregateNotFoundError:
                return
            allowance.release(campaign_id, WORKER_ACTOR, self.clock())
            self.save(allowance)

        self._run(attempt, allowance_id)


_ENVELOPE = ("originator_id", "originator_version", "timestamp")


def _payload(event) -> dict:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
