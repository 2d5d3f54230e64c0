"""The words the whole service shares: statuses, segment types, skip reasons, limits.

Defined once here; every layer imports them (the OpenAPI document shows them as enums). They
are `StrEnum`s, so events and rows keep storing the plain strings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from enum import StrEnum
from uuid import UUID


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # a draft with a start time: the follower starts it when due
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class CampaignAction(StrEnum):
    """What can be done to a campaign; the controls are in CONTROLS, plus schedule (which takes a time)."""

    EDIT = "edit"
    DELETE = "delete"
    RUN = "run"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY_FAILED = "retry-failed"


# The controls that take nothing but the campaign (schedule takes a time: it has its own form).
CONTROLS = (
    CampaignAction.RUN,
    CampaignAction.UNSCHEDULE,
    CampaignAction.PAUSE,
    CampaignAction.RESUME,
    CampaignAction.CANCEL,
    CampaignAction.RETRY_FAILED,
)


class OutreachStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_OUTREACH = (OutreachStatus.SENT, OutreachStatus.FAILED, OutreachStatus.SKIPPED)


class SegmentType(StrEnum):
    """How a campaign names its audience: one of the seed's two segments (with `segment_value`),
    a rule of its own (`segment_rule`), or a saved segment (`segment`)."""

    INACTIVE_DAYS = "inactive_days"
    HIGH_SPENDERS = "high_spenders"
    RULE = "rule"
    SAVED = "segment"


# The largest segment_value of each shorthand type: 100 years of inactivity, 10^12 cents of spend.
SEGMENT_LIMITS = {SegmentType.INACTIVE_DAYS: 36_500, SegmentType.HIGH_SPENDERS: 10**12}
SHORTHAND_SEGMENTS = tuple(SEGMENT_LIMITS)  # the types a segment_value goes with


class SkipReason(StrEnum):
    CUSTOMER_REMOVED = "customer removed since the campaign started"
    CAMPAIGN_CANCELLED = "campaign cancelled"
    UNSUBSCRIBED = "unsubscribed"  # since the audience was resolved
    FREQUENCY_CAPPED = "frequency_capped"


class EmailConsent(StrEnum):
    """A customer's consent to marketing email."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class ImportKind(StrEnum):
    """What a CSV import brings in."""

    CUSTOMERS = "customers"
    VISITS = "visits"


class ImportStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # its restaurant was deleted while it ran


IMPORT_BATCH_ROWS = 1000  # rows per batch of an import (one save each)
MAX_IMPORT_ROWS = 1_000_000


class ConsentSource(StrEnum):
    """Where a change of consent came from."""

    API = "api"
    ONE_CLICK = "one_click"
    UNSUBSCRIBE_PAGE = "unsubscribe_page"
    DASHBOARD = "dashboard"
    IMPORT = "import"
    SUPPRESSION = "suppression"


BATCH_SIZE = 200  # customers per audience batch (one save each)
DEFAULT_SUBJECT = "{restaurant_name}"
WORKER_ACTOR = "worker"  # the actor recorded on the events workers cause
SCHEDULER_ACTOR = "scheduler"  # the actor recorded on the start of a scheduled campaign at its time
SCHEDULE_HORIZON = timedelta(days=365)  # how far ahead a campaign may be scheduled


@dataclass(frozen=True)
class CampaignDetails:
    """A campaign's settings: what it sends, and to which segment."""

    name: str
    segment_type: SegmentType
    segment_value: int  # 0 unless the type is a shorthand
    subject: str
    message_template: str
    segment_rule: dict | None = None  # the canonical rule of type "rule"
    segment_id: UUID | None = None  # the saved segment of type "segment"

    FIELDS = ("name", "segment_type", "segment_value", "subject", "message_template", "segment_rule", "segment_id")
    SEGMENT_FIELDS = ("segment_type", "segment_value", "segment_rule", "segment_id")

    def as_dict(self) -> dict:
        return asdict(self)
