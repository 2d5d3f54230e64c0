"""The Campaign aggregate: a message sent to a segment, with its lifecycle state machine.

draft -> running -> completed; running <-> paused; draft, running or paused -> cancelled;
completed -> running once more, to retry its failed outreach (`retry-failed`, once).
draft <-> scheduled (a start time in the future); scheduled -> running when due (the
scheduler) or when run at once; scheduled -> cancelled.
A recurring campaign (a series, see crm.write_model.occurrences) stays scheduled: each time it
is due, a new campaign, its occurrence, is created and started, and the series moves on.
The audience is resolved once, after the start, into numbered batches; the campaign
completes when every batch is finished.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

from crm.write_model.base import CrmAggregate
from crm.write_model.errors import CampaignNotFound, Conflict, IllegalTransition, InvalidInput
from crm.write_model.vocabulary import SCHEDULE_HORIZON, CampaignAction, CampaignDetails, CampaignStatus

Action, Status = CampaignAction, CampaignStatus
# The statuses each command is allowed from: the lifecycle's one statement, which the
# dashboard also reads to offer only the controls that the current status allows.
ALLOWED_FROM = {
    Action.EDIT: (Status.DRAFT,),
    Action.DELETE: (Status.DRAFT,),
    Action.RUN: (Status.DRAFT, Status.SCHEDULED),
    Action.SCHEDULE: (Status.DRAFT,),
    Action.UNSCHEDULE: (Status.SCHEDULED,),
    Action.PAUSE: (Status.RUNNING,),
    Action.RESUME: (Status.PAUSED,),
    Action.CANCEL: (Status.DRAFT, Status.SCHEDULED, Status.RUNNING, Status.PAUSED),
    Action.RETRY_FAILED: (Status.COMPLETED,),  # once, and only with failed outreach
}


def allowed_actions(
    status: str, failed: int = 0, retried_failed: bool = False, recurring: bool = False
) -> tuple[str, ...]:
    """The commands (edit, delete and the controls) that a campaign in `status` allows; retry-failed
    also needs `failed` outreach and no retry before; a recurring series never runs by hand."""
    return tuple(
        action
        for action, statuses in ALLOWED_FROM.items()
        if status in statuses
        and (action != Action.RETRY_FAILED or (failed > 0 and not retried_failed))
        and not (action == Action.RUN and recurring)
    )


class Campaign(CrmAggregate):
    """A campaign of one restaurant."""

    scheduled_for = None  # when a scheduled campaign starts (also for snapshots taken before scheduling)
    segment_rule = None  # campaigns (and snapshots) from before segment rules
    segment_id = None
    audience_rule = None
    recurrence = None  # a series' (Recurrence.as_json) while it is scheduled
    recurrence_cooldown_days = None
    series_id = None  # an occurrence's series
    cooldown_days = None  # an occurrence's, fixed at its start

    class Created(CrmAggregate.Created):
        class_version = 3  # v2: segment_rule and segment_id (the segment types "rule" and "segment"); v3: series_id
        restaurant_id: UUID
        name: str
        segment_type: str
        segment_value: int
        subject: str
        message_template: str
        segment_rule: dict | None
        segment_id: UUID | None
        series_id: UUID | None  # an occurrence of a recurring campaign: the series

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["segment_rule"] = state["segment_id"] = None

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["series_id"] = None

        def apply(self, campaign: Campaign) -> None:
            campaign.restaurant_id = self.restaurant_id
            campaign.series_id = self.series_id
            campaign.status = Status.DRAFT
            campaign.deleted = False
            campaign.audience_size = None
            campaign.batch_count = 0
            campaign.finished_batches = []
            campaign.started_at = None
            campaign.completed_at = None
            Campaign.DetailsChanged.apply(self, campaign)  # type: ignore[arg-type]

    class DetailsChanged(CrmAggregate.Event):
        class_version = 2  # as Created
        name: str
        segment_type: str
        segment_value: int
        subject: str
        message_template: str
        segment_rule: dict | None
        segment_id: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["segment_rule"] = state["segment_id"] = None

        def apply(self, campaign: Campaign) -> None:
            campaign.name = self.name
            campaign.segment_type = self.segment_type
            campaign.segment_value = self.segment_value
            campaign.subject = self.subject
            campaign.message_template = self.message_template
            campaign.segment_rule = self.segment_rule
            campaign.segment_id = self.segment_id

    class Started(CrmAggregate.Event):
        """`audience_rule`: the rule the audience is resolved with, fixed at the start (a saved
        segment's as it was then); None for the two shorthand segments (segment_type/value).
        `cooldown_days`: an occurrence's, leaving out whom its series messaged within them."""

        class_version = 3
        audience_rule: dict | None
        cooldown_days: int | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["audience_rule"] = None

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["cooldown_days"] = None

        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.RUNNING
            campaign.started_at = self.timestamp
            campaign.scheduled_for = None
            campaign.audience_rule = self.audience_rule
            campaign.cooldown_days = self.cooldown_days

    class Scheduled(CrmAggregate.Event):
        """To start at `scheduled_for` (UTC); with a `recurrence`, the first occurrence of a series."""

        class_version = 2
        scheduled_for: datetime
        recurrence: dict | None
        cooldown_days: int | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["recurrence"] = state["cooldown_days"] = None

        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.SCHEDULED
            campaign.scheduled_for = self.scheduled_for
            campaign.recurrence = self.recurrence
            campaign.recurrence_cooldown_days = self.cooldown_days

    class Unscheduled(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.DRAFT
            campaign.scheduled_for = campaign.recurrence = campaign.recurrence_cooldown_days = None

    class OccurrenceStarted(CrmAggregate.Event):
        """A series' occurrence due `at` was created and started as `occurrence_id`; the series
        is next due at `next_at`."""

        occurrence_id: UUID
        at: datetime
        next_at: datetime

        def apply(self, campaign: Campaign) -> None:
            campaign.scheduled_for = self.next_at

    class AudienceResolved(CrmAggregate.Event):
        """`size` customers in `batch_count` batches; `excluded_unsubscribed`: in the segment,
        left out because they had unsubscribed; `excluded_cooldown`: (an occurrence's) left out
        because its series messaged them within its cooldown."""

        class_version = 3
        size: int
        batch_count: int
        excluded_unsubscribed: int
        excluded_cooldown: int

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["excluded_unsubscribed"] = 0

        @staticmethod
        def upcast_v2_v3(state: dict) -> None:
            state["excluded_cooldown"] = 0

        def apply(self, campaign: Campaign) -> None:
            campaign.audience_size = self.size
            campaign.batch_count = self.batch_count

    class BatchFinished(CrmAggregate.Event):
        number: int

        def apply(self, campaign: Campaign) -> None:
            campaign.finished_batches.append(self.number)

    class Paused(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.PAUSED

    class Resumed(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.RUNNING

    class Cancelled(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.CANCELLED
            campaign.scheduled_for = campaign.recurrence = campaign.recurrence_cooldown_days = None

    class Completed(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.COMPLETED
            campaign.completed_at = self.timestamp

    class FailedRequeued(CrmAggregate.Event):
        """A completed campaign's failed outreach queued again (once): `count` records in the
        batches numbered `batches`, which are unfinished again."""

        batches: list[int]
        count: int

        def apply(self, campaign: Campaign) -> None:
            campaign.status = Status.RUNNING
            campaign.failed_requeued = True
            campaign.finished_batches = [n for n in campaign.finished_batches if n not in self.batches]

    class Deleted(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.deleted = True

    @classmethod
    def create(
        cls, id: UUID, restaurant_id: UUID, details: dict, actor: str, at: datetime, series_id: UUID | None = None
    ) -> Campaign:
        """A draft; `series_id`: the recurring campaign it is an occurrence of."""
        details = _whole(details)
        return cls._create(
            cls.Created, id=id, restaurant_id=restaurant_id, series_id=series_id, actor=actor, timestamp=at, **details
        )

    @property
    def details(self) -> dict:
        return {field: getattr(self, field) for field in CampaignDetails.FIELDS}

    @property
    def audience_resolved(self) -> bool:
        return self.audience_size is not None

    @property
    def unfinished_batches(self) -> list[int]:
        finished = set(self.finished_batches)
        return [n for n in range(self.batch_count) if n not in finished]

    def change_details(self, details: dict, actor: str, at: datetime) -> None:
        self._require(Action.EDIT)
        details = _whole(details)
        if details != self.details:
            self.trigger_event(self.DetailsChanged, actor=actor, timestamp=at, **details)

    def delete(self, actor: str, at: datetime) -> None:
        self._require(Action.DELETE)
        self.trigger_event(self.Deleted, actor=actor, timestamp=at)

    def run(
        self, actor: str, at: datetime, audience_rule: dict | None = None, cooldown_days: int | None = None
    ) -> None:
        """Start now; `audience_rule`: the rule of a campaign that names one; `cooldown_days`: an
        occurrence's (see Started). A series runs through its occurrences only."""
        self._require(Action.RUN)
        if self.recurrence is not None:
            raise Conflict("a recurring campaign runs as its occurrences: unschedule it, then run it once")
        self.trigger_event(
            self.Started, audience_rule=audience_rule, cooldown_days=cooldown_days, actor=actor, timestamp=at
        )

    def schedule(
        self,
        scheduled_for: datetime,
        actor: str,
        at: datetime,
        recurrence: dict | None = None,
        cooldown_days: int | None = None,
    ) -> None:
        """Start the draft at `scheduled_for`: timezone-aware, after `at`, within SCHEDULE_HORIZON
        of it; with a (checked) `recurrence`, as the first occurrence of a series."""
        self._require(Action.SCHEDULE)
        if scheduled_for.tzinfo is None or scheduled_for.utcoffset() is None:
            raise InvalidInput("scheduled_for", "must state its time zone offset (e.g. 2027-01-31T09:00:00+01:00)")
        if scheduled_for <= at:
            raise InvalidInput("scheduled_for", "must be in the future")
        if scheduled_for > at + SCHEDULE_HORIZON:
            raise InvalidInput("scheduled_for", f"must be at most {SCHEDULE_HORIZON.days} days ahead")
        utc = scheduled_for.astimezone(timezone.utc)
        cooldown_days = None if recurrence is None else cooldown_days
        self.trigger_event(
            self.Scheduled,
            scheduled_for=utc,
            recurrence=recurrence,
            cooldown_days=cooldown_days,
            actor=actor,
            timestamp=at,
        )

    def unschedule(self, actor: str, at: datetime) -> None:
        """Back to draft: it will not start by itself."""
        self._require(Action.UNSCHEDULE)
        self.trigger_event(self.Unscheduled, actor=actor, timestamp=at)

    def is_due(self, at: datetime) -> bool:
        return not self.deleted and self.status == Status.SCHEDULED and self.scheduled_for <= at

    def start_if_due(self, actor: str, at: datetime, audience_rule: dict | None = None) -> bool:
        """Start a scheduled campaign whose time has come; False (nothing recorded) if it is not
        scheduled any more (started, unscheduled, cancelled) or not yet due."""
        if not self.is_due(at) or self.recurrence is not None:
            return False
        self.trigger_event(self.Started, audience_rule=audience_rule, cooldown_days=None, actor=actor, timestamp=at)
        return True

    def start_occurrence(self, occurrence_id: UUID, next_at: datetime, actor: str, at: datetime) -> None:
        """Record that the series' due occurrence started as `occurrence_id`; next due at `next_at`."""
        if self.recurrence is None or not self.is_due(at) or next_at <= at:
            raise Conflict("only a recurring campaign that is due starts an occurrence, and its next is later")
        self.trigger_event(
            self.OccurrenceStarted,
            occurrence_id=occurrence_id,
            at=self.scheduled_for,
            next_at=next_at,
            actor=actor,
            timestamp=at,
        )

    def pause(self, actor: str, at: datetime) -> None:
        self._require(Action.PAUSE)
        self.trigger_event(self.Paused, actor=actor, timestamp=at)

    def resume(self, actor: str, at: datetime) -> None:
        self._require(Action.RESUME)
        self.trigger_event(self.Resumed, actor=actor, timestamp=at)
        self._complete_if_done(actor, at)

    def cancel(self, actor: str, at: datetime) -> None:
        self._require(Action.CANCEL)
        self.trigger_event(self.Cancelled, actor=actor, timestamp=at)

    def check_retry_failed(self) -> None:
        """Raise unless the failed outreach may be queued again: a completed campaign, once."""
        self._require(Action.RETRY_FAILED)
        if self.retried_failed:
            raise Conflict("the failed outreach of this completed campaign was retried already: it is retried once")

    def requeue_failed(self, batches: list[int], count: int, actor: str, at: datetime) -> None:
        """Run again to send the `count` failed records queued again in `batches`."""
        self.check_retry_failed()
        if count == 0:
            raise Conflict("nothing to retry: this completed campaign has no failed outreach")
        self.trigger_event(self.FailedRequeued, batches=batches, count=count, actor=actor, timestamp=at)

    @property
    def retried_failed(self) -> bool:
        return getattr(self, "failed_requeued", False)  # absent from snapshots taken before it existed

    def resolve_audience(
        self,
        size: int,
        batch_count: int,
        actor: str,
        at: datetime,
        excluded_unsubscribed: int = 0,
        excluded_cooldown: int = 0,
    ) -> None:
        """Record the audience once; an empty one completes the campaign at once."""
        self._require_exists()
        if self.audience_resolved or self.status not in (Status.RUNNING, Status.PAUSED):
            return
        self.trigger_event(
            self.AudienceResolved,
            size=size,
            batch_count=batch_count,
            excluded_unsubscribed=excluded_unsubscribed,
            excluded_cooldown=excluded_cooldown,
            actor=actor,
            timestamp=at,
        )
        self._complete_if_done(actor, at)

    def finish_batch(self, number: int, actor: str, at: datetime) -> None:
        """Mark a batch finished (once); the last one completes a running campaign."""
        self._require_exists()
        if number in self.finished_batches or not 0 <= number < self.batch_count:
            return
        self.trigger_event(self.BatchFinished, number=number, actor=actor, timestamp=at)
        self._complete_if_done(actor, at)

    def _complete_if_done(self, actor: str, at: datetime) -> None:
        if self.status == Status.RUNNING and self.audience_resolved and not self.unfinished_batches:
            self.trigger_event(self.Completed, actor=actor, timestamp=at)

    def _require_exists(self) -> None:
        if self.deleted:
            raise CampaignNotFound(self.id)

    def _require(self, action: CampaignAction) -> None:
        self._require_exists()
        if self.status not in ALLOWED_FROM[action]:
            raise IllegalTransition(action, self.status)


def _whole(details: dict) -> dict:
    """Settings with every field: a shorthand's come without a rule or a saved segment."""
    return {"segment_rule": None, "segment_id": None, **details}
