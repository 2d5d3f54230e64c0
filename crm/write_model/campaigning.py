"""Campaign commands of the CRM application: the lifecycle, the audience, the outreach records."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy import func, select

from crm.write_model import templates, validation
from crm.write_model.campaigns import SEGMENT_TYPES, Campaign
from crm.write_model.errors import CampaignNotFound, InvalidInput, ReplayOfDeleted, RestaurantNotFound
from crm.write_model.outreach import BATCH_SIZE, AudienceBatch, Outreach, batch_id

if TYPE_CHECKING:
    from crm.write_model.application import CrmApplication

SEGMENT_LIMITS = {"inactive_days": 36_500, "high_spenders": 10**12}
DEFAULT_SUBJECT = "{restaurant_name}"
WORKER = "worker"


def validated_details(details: dict) -> dict:
    """The campaign settings, checked: name, segment (type and integer range), templates."""
    segment_type = details.get("segment_type")
    if segment_type not in SEGMENT_TYPES:
        raise InvalidInput("segment_type", f"must be one of {', '.join(SEGMENT_TYPES)}")
    value = details.get("segment_value")
    if type(value) is not int or not 0 <= value <= SEGMENT_LIMITS[segment_type]:
        raise InvalidInput("segment_value", f"must be an integer from 0 to {SEGMENT_LIMITS[segment_type]}")
    return {
        "name": validation.text(details.get("name"), "name"),
        "segment_type": segment_type,
        "segment_value": value,
        "subject": templates.validate(details.get("subject", DEFAULT_SUBJECT), "subject"),
        "message_template": templates.validate(details.get("message_template"), "message_template"),
    }


class Campaigning:
    """Mixed into CrmApplication: commands on campaigns, audience batches and outreach."""

    def create_campaign(
        self: CrmApplication,
        restaurant_id: UUID,
        details: dict,
        *,
        actor: str,
        scope: UUID | None,
        campaign_id: UUID | None = None,
    ) -> UUID:
        """Create a draft campaign and return its id (an existing `campaign_id` is a replay)."""
        details = validated_details(details)
        campaign_id = campaign_id or uuid4()

        def attempt() -> UUID:
            if self._exists(campaign_id):
                if self.repository.get(campaign_id).deleted:
                    raise ReplayOfDeleted("campaign", campaign_id)
                return campaign_id
            try:
                self._restaurant(restaurant_id, scope)
            except RestaurantNotFound:
                raise InvalidInput("restaurant", "no such restaurant") from None
            self.save(Campaign.create(campaign_id, restaurant_id, details, actor, self.clock()))
            return campaign_id

        return self._retrying(attempt)

    def update_campaign(self: CrmApplication, campaign_id: UUID, changes: dict, *, actor: str, scope: UUID | None):
        """Change a draft campaign's settings (fields not given keep their value)."""

        def attempt() -> None:
            campaign = self._campaign(campaign_id, scope)
            details = validated_details({**campaign.details, **changes})
            campaign.change_details(details, actor, self.clock())
            self.save(campaign)

        self._retrying(attempt)

    def delete_campaign(self: CrmApplication, campaign_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Delete a draft campaign."""
        self._control(campaign_id, "delete", actor, scope)

    def run_campaign(self: CrmApplication, campaign_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Start a draft campaign; workers resolve its audience and send."""
        self._control(campaign_id, "run", actor, scope)

    def pause_campaign(self: CrmApplication, campaign_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Pause a running campaign before its next message."""
        self._control(campaign_id, "pause", actor, scope)

    def resume_campaign(self: CrmApplication, campaign_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Resume a paused campaign where it stopped."""
        self._control(campaign_id, "resume", actor, scope)

    def cancel_campaign(self: CrmApplication, campaign_id: UUID, *, actor: str, scope: UUID | None) -> None:
        """Cancel a draft, running or paused campaign for good."""
        self._control(campaign_id, "cancel", actor, scope)

    # -- worker commands ----------------------------------------------------------------

    def campaign(self: CrmApplication, campaign_id: UUID, known: Campaign | None = None) -> Campaign:
        """The campaign's current state; with `known`, only events newer than it are read."""
        if known is None:
            return self._campaign(campaign_id, None)
        if self._latest_version(campaign_id) > known.version:  # one indexed lookup when nothing changed
            for event in self.events.get(campaign_id, gt=known.version):
                event.mutate(known)
        return known

    def plan_audience(self: CrmApplication, campaign_id: UUID, customer_ids: list[UUID]) -> None:
        """Fix the audience in batches of BATCH_SIZE, once: a second resolution changes nothing."""

        def attempt() -> None:
            campaign = self._campaign(campaign_id, None)
            if campaign.audience_resolved or campaign.status not in ("running", "paused"):
                return
            at = self.clock()
            chunks = [customer_ids[i : i + BATCH_SIZE] for i in range(0, len(customer_ids), BATCH_SIZE)]
            batches = [AudienceBatch.plan(campaign_id, n, chunk, WORKER, at) for n, chunk in enumerate(chunks)]
            campaign.resolve_audience(len(customer_ids), len(batches), WORKER, at)
            self.save(campaign, *batches)

        self._retrying(attempt)

    def open_batch(self: CrmApplication, campaign_id: UUID, number: int) -> list[Outreach]:
        """The batch's outreach records not yet final, created (in one save) on first opening."""
        batch = self.repository.get(batch_id(campaign_id, number))
        if not batch.outreach_created:
            restaurant_id = self._campaign(campaign_id, None).restaurant_id
            at = self.clock()
            records = [Outreach.queue(campaign_id, c, restaurant_id, WORKER, at) for c in batch.customer_ids]
            batch.mark_outreach_created(WORKER, at)
            try:
                self.save(batch, *records)
                return records
            except IntegrityError:  # another worker created them first: load theirs
                pass
        records = [self.repository.get(Outreach.id_for(campaign_id, c)) for c in batch.customer_ids]
        return [r for r in records if not r.is_terminal]

    def record_outcomes(self: CrmApplication, records: list[Outreach]) -> None:
        """Save what happened to these records (one save for the lot)."""
        try:
            self.save(*records)
        except IntegrityError:
            # Someone else recorded some of them (a redelivered task): keep only our new facts.
            for record in records:
                fresh = self.repository.get(record.id)
                for event in record.collect_events():
                    if not fresh.is_terminal:
                        fresh.trigger_event(type(event), **_payload(event))
                self.save(fresh)

    def finish_batch(self: CrmApplication, campaign_id: UUID, number: int) -> None:
        """Mark a batch finished; the campaign completes with its last batch."""

        def attempt() -> None:
            campaign = self._campaign(campaign_id, None)
            campaign.finish_batch(number, WORKER, self.clock())
            self.save(campaign)

        self._retrying(attempt)

    # -- helpers ------------------------------------------------------------------------

    def _latest_version(self: CrmApplication, aggregate_id: UUID) -> int:
        table = self.recorder.events_record_cls.__table__
        query = select(func.max(table.c.originator_version)).where(table.c.originator_id == aggregate_id)
        with self.factory.datastore.engine.connect() as conn:
            return conn.execute(query).scalar() or 0

    def _campaign(self: CrmApplication, campaign_id: UUID, scope: UUID | None) -> Campaign:
        try:
            campaign = self.repository.get(campaign_id)
        except AggregateNotFoundError:
            raise CampaignNotFound(campaign_id) from None
        if not isinstance(campaign, Campaign) or campaign.deleted:
            raise CampaignNotFound(campaign_id)
        if scope is not None and campaign.restaurant_id != scope:
            raise CampaignNotFound(campaign_id)
        return campaign

    def _control(self: CrmApplication, campaign_id: UUID, action: str, actor: str, scope: UUID | None) -> None:
        def attempt() -> None:
            campaign = self._campaign(campaign_id, scope)
            getattr(campaign, action)(actor, self.clock())
            self.save(campaign)

        with self._serialised(campaign_id):
            self._retrying(attempt)


_ENVELOPE = ("originator_id", "originator_version", "timestamp")


def _payload(event) -> dict:
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
