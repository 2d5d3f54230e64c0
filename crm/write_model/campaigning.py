"""Campaign commands: settings, the lifecycle, scheduling and the start (the workers' commands on
the audience and the outreach records are in outreaching.py)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from crm.write_model import occurrences, templates, validation
from crm.write_model.campaigns import Campaign
from crm.write_model.commands import Commands, Recorded
from crm.write_model.errors import InvalidInput, RestaurantNotFound, SegmentGone, SegmentNotFound
from crm.write_model.outreach import batch_id
from crm.write_model.recurrence import Recurrence, cooldown_days
from crm.write_model.segment_rules import parse_rule
from crm.write_model.segments import Segment
from crm.write_model.vocabulary import (
    DEFAULT_SUBJECT,
    SCHEDULER_ACTOR,
    SEGMENT_LIMITS,
    SHORTHAND_SEGMENTS,
    CampaignAction,
    CampaignDetails,
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

    # -- helpers ------------------------------------------------------------------------

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
