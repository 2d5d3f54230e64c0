"""When a recurring campaign runs: every day, or on some weekdays, at a local time of the
restaurant's time zone. Pure schedule maths, no I/O.

Each occurrence is the next local date (and weekday) at `at`, converted to UTC with zoneinfo.
A local time the clocks skip (the change to summer time) runs at the first instant after the
gap (the moment the clocks jump); one the clocks pass twice (back to winter time) runs once, at
the first of the two (fold=0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.write_model.errors import InvalidInput


class Every(StrEnum):
    DAY = "day"
    WEEK = "week"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
AT_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # "HH:MM", 24-hour
DEFAULT_COOLDOWN_DAYS = 30
MAX_COOLDOWN_DAYS = 3650
_KEYS = ("every", "at", "weekdays")


@dataclass(frozen=True)
class Recurrence:
    """Every day, or every week on `weekdays` (in WEEKDAYS order), at the local time `at`."""

    every: Every
    at: time
    weekdays: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: object, field: str = "recurrence") -> Recurrence:
        """The recurrence a JSON object states, checked (InvalidInput naming `field.key`).
        `weekdays` is required for every week and must be empty or absent for every day."""
        if not isinstance(value, dict):
            raise InvalidInput(field, "must be an object with every, at and (for every week) weekdays")
        unknown = sorted(set(value) - set(_KEYS))
        if unknown:
            raise InvalidInput(f"{field}.{unknown[0]}", "unknown field: give every, at and weekdays only")
        every = value.get("every")
        if every not in tuple(Every):
            raise InvalidInput(f"{field}.every", "must be 'day' or 'week'")
        at = value.get("at")
        if not isinstance(at, str) or not re.fullmatch(AT_PATTERN, at):
            raise InvalidInput(f"{field}.at", "must be a local time HH:MM (24-hour), such as 09:00")
        weekdays = value.get("weekdays", [])
        if not isinstance(weekdays, list) or any(day not in WEEKDAYS for day in weekdays):
            raise InvalidInput(f"{field}.weekdays", f"must be a list of {', '.join(WEEKDAYS)}")
        if len(set(weekdays)) != len(weekdays):
            raise InvalidInput(f"{field}.weekdays", "must not name a day twice")
        if every == Every.WEEK and not weekdays:
            raise InvalidInput(f"{field}.weekdays", "name at least one day for every week")
        if every == Every.DAY and weekdays:
            raise InvalidInput(f"{field}.weekdays", "only with every week (every day runs on each day)")
        hour, minute = map(int, at.split(":"))
        return cls(Every(every), time(hour, minute), tuple(day for day in WEEKDAYS if day in weekdays))

    def as_json(self) -> dict:
        """The canonical JSON form (weekdays Monday first; empty for every day)."""
        return {"every": self.every.value, "at": f"{self.at:%H:%M}", "weekdays": list(self.weekdays)}

    def next_after(self, after: datetime, zone: str) -> datetime:
        """The first occurrence strictly after `after` (aware), in UTC."""
        tz = ZoneInfo(zone)
        today = after.astimezone(tz).date()
        # From the day before: a time skipped late one evening runs just after midnight.
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            if self.every == Every.WEEK and WEEKDAYS[day.weekday()] not in self.weekdays:
                continue
            moment = local_instant(day, self.at, tz)
            if moment > after:
                return moment
        raise AssertionError("a weekly recurrence has a day within eight days")  # pragma: no cover

    def describe(self, zone: str) -> str:
        """In words: "Every Monday and Thursday at 09:00 Europe/Paris"."""
        if self.every == Every.DAY:
            days = "day"
        else:
            names = [WEEKDAY_NAMES[WEEKDAYS.index(day)] for day in self.weekdays]
            days = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"Every {days} at {self.at:%H:%M} {zone}"


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local `day` at `at`: the first of two (fold=0) when the clocks pass it
    twice; the end of the gap when they skip it."""
    naive = datetime.combine(day, at)
    moment = naive.replace(tzinfo=tz).astimezone(timezone.utc)
    if _wall(moment, tz) == naive:
        return moment
    # Skipped. fold=1 reads it with the offset after the change (an instant before the gap),
    # fold=0 with the one before (an instant after it): the jump lies between the two.
    before = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    after = int(moment.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if _wall(datetime.fromtimestamp(middle, timezone.utc), tz) < naive:
            before = middle
        else:
            after = middle
    return datetime.fromtimestamp(after, timezone.utc)


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_label(moment: datetime, zone: str) -> str:
    """A moment as the restaurant reads it, the same in every locale: "Mon 4 Jan 09:00"."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{WEEKDAY_NAMES[local.weekday()][:3]} {local.day} {_MONTHS[local.month - 1]} {local:%H:%M}"


def cooldown_days(value: object, field: str = "recurrence_cooldown_days") -> int:
    """A recurrence's cooldown in days (DEFAULT_COOLDOWN_DAYS when None), checked."""
    if value is None:
        return DEFAULT_COOLDOWN_DAYS
    if type(value) is not int or not 0 <= value <= MAX_COOLDOWN_DAYS:
        raise InvalidInput(field, f"must be an integer from 0 to {MAX_COOLDOWN_DAYS}")
    return value
