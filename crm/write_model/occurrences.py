"""The occurrences of a recurring campaign (a series): each is a campaign of its own, with its
own audience and outreach records, created and started when the series is due.

An occurrence's id is derived from the series and the instant it was due, so that two
schedulers starting the same occurrence create one campaign (the second save conflicts). Missed
occurrences (every worker down) are not made up: the due one starts once, late, and the series
moves on to its next occurrence after now.
"""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID, uuid5

from crm.write_model.campaigns import Campaign
from crm.write_model.recurrence import Recurrence, local_label
from crm.write_model.validation import MAX_NAME_LENGTH
from crm.write_model.vocabulary import SCHEDULER_ACTOR

SEPARATOR = " · "


def occurrence_id(series_id: UUID, due: datetime) -> UUID:
    """The id of the series' occurrence due at `due`."""
    return uuid5(series_id, f"occurrence:{due.astimezone(timezone.utc).isoformat()}")


def occurrence_name(series_name: str, due: datetime, zone: str) -> str:
    """The series' name with the local date and time it was due ("Win-back · Mon 4 Jan 09:00"),
    the name shortened if the whole would be too long."""
    suffix = SEPARATOR + local_label(due, zone)
    return series_name[: MAX_NAME_LENGTH - len(suffix)] + suffix


def start_occurrence(series: Campaign, zone: str, audience_rule: dict | None, now: datetime) -> Campaign:
    """Create and start the occurrence of a due `series` (whose restaurant's time zone is `zone`),
    with the series' settings, the start's `audience_rule` and the series' cooldown, and record it
    on the series, which is next due at its first occurrence after `now`. Both are to be saved
    together."""
    due = series.scheduled_for
    next_at = Recurrence.parse(series.recurrence).next_after(now, zone)
    details = {**series.details, "name": occurrence_name(series.name, due, zone)}
    occurrence = Campaign.create(
        occurrence_id(series.id, due), series.restaurant_id, details, SCHEDULER_ACTOR, now, series_id=series.id
    )
    occurrence.run(SCHEDULER_ACTOR, now, audience_rule, cooldown_days=series.recurrence_cooldown_days)
    series.start_occurrence(occurrence.id, next_at, SCHEDULER_ACTOR, now)
    return occurrence
