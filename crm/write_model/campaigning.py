"""Campaign commands: the lifecycle, the audience, the outreach records."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from crm.write_model import occurrences, templates, validation
from crm.write_model.campaigns import Campaign
from crm.write_model.commands import Commands, Recorded
from crm.write_model.contact_allowances import ContactAllowance, contact_allowance_id
from crm.write_model.errors import CampaignNotFound, InvalidInput, RestaurantNotFound, SegmentGone, SegmentNotFound
from crm.write_model.outreach import AudienceBatch, Outreach, OutreachRecord, batch_id
from crm.write_model.recurrence import Recurrence, cooldown_days
from crm.write_model.segment_rules import parse_rule
from crm.write_model.segments import Segment
from crm.write_model.vocabulary import (
    BATCH_SIZE,
    DEFAULT_SUBJECT,
    SCHEDULER_ACTOR,
    SEGMENT_LIMITS,
    SHORTHAND_SEGMENTS,
    WORKER_ACTOR,
    CampaignAction,
    CampaignDetails,
    CampaignStatus,
    SegmentType,
)


def validated_details(details: dict) -> dict:
    """The campaign settings, checked: name, segment, templates. The segment is one of the
    shorthands (`segment_type` and an integer `segment_value` in its range), a rule of its own
    (`segment_rule`), or a saved segment (`segment_id`): one of the three."""
    return CampaignDetails(
        name=validation.text(details.get("name"), "name"),
        **_segment(details),
        subject=templates.validate(details.get("subject", DEFAULT_SUBJECT), "subject"),
        message_template=templates.validate(details.get("message_template"), "message_template"),
    ).as_dict()


def _segment(details: dict) -> dict:
    rule, saved = details.get("segment_rule"), details.get("segment_id")
    if rule is not None and saved is not None:
        raise InvalidInput("segment_rule", "give a segment_rule or a saved segment, not both")
    if rule is not None:
        return {
            "segment_type": SegmentType.RULE,
            "segment_value": 0,
            "segment_rule": parse_rule(rule, "segment_rule").as_json(),
        }
    if saved is not None:
        return {"segment_type": SegmentType.SAVED, "segment_value": 0, "segment_id": saved}
    segment_type = details.get("segment_type")
    if segment_type not in SHORTHAND_SEGMENTS:
        raise InvalidInput(
            "segment_type", f"must be one of {', '.join(SHORTHAND_SEGMENTS)} (or give a segment_rule or a segment)"
        )
    segment_type = SegmentType(segment_type)
    value = details.get("segment_value")
    if type(value) is not int or not 0 <= value <= SEGMENT_LIMITS[segment_type]:
        raise InvalidInput("segment_value", f"must be an integer from 0 to {SEGMENT_LIMITS[segment_type]}")
    return {"segment_type": segment_type, "segment_value": value}


def with_changes(details: dict, changes: dict) -> dict:
    """A campaign's settings with `changes` applied. Between the shorthands, a type or a value
    not given keeps its own; any other change of segment replaces the whole segment."""
    segment_change = [field for field in CampaignDetails.SEGMENT_FIELDS if field in changes]
    between_shorthands = details["segment_type"] in SHORTHAND_SEGMENTS and set(segment_change) <= {
        "segment_type",
        "segment_value",
    }
    if segment_change and not between_shorthands:
        details = {k: v for k, v in details.items() if k not in CampaignDetails.SEGMENT_FIELDS}
    return {**details, **changes}


class CampaignCommands(Commands):
    """Commands on campaigns, their audience batches and outreach records."""

    def create_campaign(
        self,
        restaurant_id: UUID,
        details: dict,
        *,
        actor: str,
        scope: UUID | None,
        campaign_id: UUID | None = None,
    ) -> Recorded:
        """Create a draft campaign (an existing `campaign_id` is a replay)."""
        details = validated_details(details)
        campaign_id = campaign_id or uuid4()

        def attempt() -> Recorded:
            if self._created_before(campaign_id, "campaign"):
                return self._unchanged(campaign_id, Campaign)
            try:
                self._restaurant(restaurant_id, scope)
            except RestaurantNotFound:
                raise InvalidInput("restaurant", "no such restaurant") from None
            self._check_segment(details, restaurant_id)
            campaign = Campaign.create(campaign_id, restaurant_id, details, actor, self.clock())
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt)

    def update_campaign(self, campaign_id: UUID, changes: dict, *, actor: str, scope: UUID | None) -> Recorded:
        """Change a draft campaign's settings (fields not given keep their value)."""

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, scope)
            details = validated_details(with_changes(campaign.details, changes))
            self._check_segment(details, campaign.restaurant_id)
            campaign.change_details(details, actor, self.clock())
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)

    def delete_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Delete a draft campaign."""
        return self._change(campaign_id, scope, lambda campaign: campaign.delete(actor, self.clock()))

    def run_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Start a draft or scheduled campaign now; workers resolve its audience and send."""

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, scope)
            campaign.run(actor, self.clock(), self._audience_rule(campaign))
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)

    def schedule_campaign(
        self,
        campaign_id: UUID,
        scheduled_for: datetime | None,
        *,
        actor: str,
        scope: UUID | None,
        recurrence: dict | None = None,
        recurrence_cooldown_days: int | None = None,
    ) -> Recorded:
        """Schedule a draft campaign to start at `scheduled_for` (timezone-aware, in the future,
        at most a year ahead); the campaign follower starts it when due. With a `recurrence`
        (crm.write_model.recurrence, in the restaurant's time zone) it recurs, first at
        `scheduled_for` if given, else at its next occurrence; each occurrence leaves out whom
        the series messaged within `recurrence_cooldown_days` (default 30)."""
        if recurrence is None and recurrence_cooldown_days is not None:
            raise InvalidInput("recurrence_cooldown_days", "only with a recurrence")
        if recurrence is None and scheduled_for is None:
            raise InvalidInput("scheduled_for", "give scheduled_for, or a recurrence, or both")
        parsed = None if recurrence is None else Recurrence.parse(recurrence)
        cooldown = None if parsed is None else cooldown_days(recurrence_cooldown_days)

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, scope)
            at = self.clock()
            first = scheduled_for
            if first is None:
                first = parsed.next_after(at, self._zone(campaign.restaurant_id))
            recurring = None if parsed is None else parsed.as_json()
            campaign.schedule(first, actor, at, recurrence=recurring, cooldown_days=cooldown)
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)

    def unschedule_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Take a scheduled campaign back to draft: it will not start by itself."""
        return self._change(campaign_id, scope, lambda campaign: campaign.unschedule(actor, self.clock()))

    def start_due_campaign(self, campaign_id: UUID) -> Recorded:
        """Start a scheduled campaign if it is still scheduled and its time has come (by this
        application's clock), as the scheduler; else record nothing. Two callers at once start it
        once: the second save conflicts, and its retry finds the campaign running."""

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, None)
            at = self.clock()
            if not campaign.is_due(at):
                return Recorded(campaign_id)
            try:
                rule = self._audience_rule(campaign)
            except SegmentGone:  # nothing to send to: back to draft, for an operator to choose again
                campaign.unschedule(SCHEDULER_ACTOR, at)
            else:
                if campaign.recurrence is not None:  # a series: its occurrence starts, in the same save
                    zone = self._zone(campaign.restaurant_id)
                    occurrence = occurrences.start_occurrence(campaign, zone, rule, at)
                    return self._save_recorded(campaign_id, campaign, occurrence)
                campaign.start_if_due(SCHEDULER_ACTOR, at, rule)
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)

    def pause_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Pause a running campaign before its next message."""
        return self._change(campaign_id, scope, lambda campaign: campaign.pause(actor, self.clock()))

    def resume_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Resume a paused campaign where it stopped."""
        return self._change(campaign_id, scope, lambda campaign: campaign.resume(actor, self.clock()))

    def cancel_campaign(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Cancel a draft, scheduled, running or paused campaign for good."""
        return self._change(campaign_id, scope, lambda campaign: campaign.cancel(actor, self.clock()))

    def retry_failed(self, campaign_id: UUID, *, actor: str, scope: UUID | None) -> Recorded:
        """Queue a completed campaign's failed outreach again, once: the campaign runs until
        they are sent (or fail again); each recipient keeps its one record, attempts counted on."""

        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, scope)
            campaign.check_retry_failed()
            at = self.clock()
            batches = [self.repository.get(batch_id(campaign_id, n)) for n in range(campaign.batch_count)]
            requeued = {batch.number: batch.requeue_failed(actor, at) for batch in batches}
            numbers = [number for number, count in requeued.items() if count]
            campaign.requeue_failed(numbers, sum(requeued.values()), actor, at)
            return self._save_recorded(campaign_id, campaign, *(b for b in batches if requeued[b.number]))

        return self._run(attempt, campaign_id)

    def control_campaign(
        self, campaign_id: UUID, action: CampaignAction, *, actor: str, scope: UUID | None
    ) -> Recorded:
        """Apply one of the controls (run, unschedule, pause, resume, cancel, retry-failed) chosen by an
        operator or a client."""
        command = {
            CampaignAction.RUN: self.run_campaign,
            CampaignAction.UNSCHEDULE: self.unschedule_campaign,
            CampaignAction.PAUSE: self.pause_campaign,
            CampaignAction.RESUME: self.resume_campaign,
            CampaignAction.CANCEL: self.cancel_campaign,
            CampaignAction.RETRY_FAILED: self.retry_failed,
        }[action]
        return command(campaign_id, actor=actor, scope=scope)

    # -- worker commands ----------------------------------------------------------------

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

    # -- helpers ------------------------------------------------------------------------

    def _campaign(self, campaign_id: UUID, scope: UUID | None) -> Campaign:
        return self._load(Campaign, campaign_id, scope, CampaignNotFound)

    def _check_segment(self, details: dict, restaurant_id: UUID) -> None:
        """A saved segment named in the settings must be one of the restaurant's, not deleted."""
        if details.get("segment_id") is not None:
            try:
                self._load(Segment, details["segment_id"], restaurant_id, SegmentNotFound)
            except SegmentNotFound:
                raise InvalidInput("segment", "no such segment in this restaurant") from None

    def _audience_rule(self, campaign: Campaign) -> dict | None:
        """The rule a start fixes for the audience: the campaign's own, or its saved segment's
        as it is now; None for the shorthands, which the audience query knows by type."""
        if campaign.segment_type == SegmentType.RULE:
            return campaign.segment_rule
        if campaign.segment_type == SegmentType.SAVED:
            try:
                return self._load(Segment, campaign.segment_id, campaign.restaurant_id, SegmentNotFound).rule
            except SegmentNotFound:
                raise SegmentGone() from None
        return None

    def _zone(self, restaurant_id: UUID) -> str:
        """The restaurant's time zone (kept by a deleted one too: its series still recur)."""
        return self.repository.get(restaurant_id).timezone

    def _change(self, campaign_id: UUID, scope: UUID | None, change) -> Recorded:
        def attempt() -> Recorded:
            campaign = self._campaign(campaign_id, scope)
            change(campaign)
            return self._save_recorded(campaign_id, campaign)

        return self._run(attempt, campaign_id)


_ENVELOPE = ("originator_id", "originator_version", "timestamp")


def _payload(event) -> dict:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
