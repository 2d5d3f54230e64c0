"""Quiet hours: a daily window of a restaurant's local time in which no message goes out.

A window is a span of instants: it begins the first moment the restaurant's wall clock reads
`start` and ends the first moment it reads `end` (the next day when `end` is earlier than
`start`: 22:00 -> 08:00 crosses midnight). On the nights the clocks change this reads as
people would: a time the clocks skip (02:30 when they jump from 02:00 to 03:00) is reached at
the jump; a time they repeat (02:30 when they go back from 03:00 to 02:00) is reached once, at
its first occurrence, so the repeated hour does not open or close a window again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # "HH:MM", 00:00 to 23:59
_HH_MM = re.compile(PATTERN)
_DAY = timedelta(days=1)


def is_time_of_day(value: object) -> bool:
    """True for a string "HH:MM" of a time of day."""
    return isinstance(value, str) and _HH_MM.fullmatch(value) is not None


@dataclass(frozen=True)
class QuietHours:
    """A restaurant's quiet hours: from `start` to `end`, local times in `zone`."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def of(cls, start: str | None, end: str | None, zone: str) -> QuietHours | None:
        """The window of a restaurant's settings ("HH:MM" each, checked when recorded); None without one."""
        if start is None or end is None:
            return None
        return cls(time.fromisoformat(start), time.fromisoformat(end), ZoneInfo(zone))

    def ends_at(self, now: datetime) -> datetime | None:
        """If `now` is inside a window, the instant (UTC) that window ends; else None."""
        today = now.astimezone(self.zone).date()
        for day in (today - _DAY, today, today + _DAY):
            begins, ends = self._window_of(day)
            if begins <= now < ends:
                return ends
        return None

    def next_start(self, now: datetime) -> datetime:
        """The instant (UTC) the next window begins: `now` inside one (windows the clocks skip
        entirely do not count)."""
        if self.ends_at(now) is not None:
            return now
        day = now.astimezone(self.zone).date() - _DAY
        while True:
            begins, ends = self._window_of(day)
            if begins > now and ends > begins:
                return begins
            day += _DAY

    def _window_of(self, day: date) -> tuple[datetime, datetime]:
        """The window that begins on `day` (local date), as UTC instants."""
        last_day = day + _DAY if self.end <= self.start else day
        return _first_reading(day, self.start, self.zone), _first_reading(last_day, self.end, self.zone)


def _first_reading(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `zone` reads `at` on `day` or later."""
    wall = datetime.combine(day, at)
    instants = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc) for fold in (0, 1)})
    for instant in instants:
        if _wall(instant, zone) == wall:
            return instant  # the time exists (the first of two when the clocks go back over it)
    # Skipped: the clocks jump over it between the two readings; find the jump (to the second:
    # transitions fall on whole seconds).
    low, high = int(instants[0].timestamp()), int(instants[-1].timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, timezone.utc), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, timezone.utc)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)
