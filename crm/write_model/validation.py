"""Domain rules for single values: money, time zones, visit times, names and emails, and the
pairs a restaurant sets together (frequency cap, quiet hours)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from crm.write_model.errors import InvalidInput
from crm.write_model.quiet_hours import is_time_of_day

MAX_VISIT_SPEND_CENTS = 100_000_000
VISIT_CLOCK_SKEW = timedelta(minutes=5)
MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Unicode's control characters (category Cc) and lone surrogates (Cs), as one character class:
# checked for every name and email, so a regex instead of a category lookup per character.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The host's own zone file ("localtime") and tzdata's placeholder ("Factory") are not places.
_TIMEZONES = (frozenset(available_timezones()) | {"UTC"}) - {"localtime", "Factory", "posixrules"}
TIMEZONES = tuple(sorted(_TIMEZONES))  # the IANA names accepted, for the API's document
EARLIEST_VISIT = datetime(1970, 1, 1, tzinfo=timezone.utc)


def spend_cents(value: object, field: str = "spend_cents") -> int:
    if type(value) is not int:
        raise InvalidInput(field, "must be an integer number of cents")
    if not 0 <= value <= MAX_VISIT_SPEND_CENTS:
        raise InvalidInput(field, f"must be between 0 and {MAX_VISIT_SPEND_CENTS}")
    return value


def timezone_name(value: object, field: str = "timezone") -> str:
    if not isinstance(value, str) or value not in _TIMEZONES:
        raise InvalidInput(field, "must be an IANA time zone name such as 'Europe/Paris'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(field, "must be an IANA time zone name such as 'Europe/Paris'") from None
    return value


def visit_time(value: object, now: datetime, field: str = "visited_at") -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be a date and time with a time zone")
    value = value.astimezone(timezone.utc)
    if value > now + VISIT_CLOCK_SKEW:
        raise InvalidInput(field, "must not be in the future")
    if value < EARLIEST_VISIT:
        raise InvalidInput(field, "must not be before 1970")
    return value


def text(value: object, field: str, *, required: bool = True, max_length: int = MAX_NAME_LENGTH) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if _CONTROL.search(value):
        raise InvalidInput(field, "must not contain control characters")
    value = value.strip()
    if required and not value:
        raise InvalidInput(field, "must not be blank")
    if len(value) > max_length:
        raise InvalidInput(field, f"must be at most {max_length} characters")
    return value


def email(value: object, field: str = "email") -> str:
    value = text(value, field, max_length=MAX_EMAIL_LENGTH)
    if not _EMAIL.match(value):
        raise InvalidInput(field, "must be a valid email address")
    return value


def normalised_email(value: str) -> str:
    """The form under which two emails count as the same (case-insensitive)."""
    return value.strip().casefold()


MAX_FREQUENCY_CAP_MESSAGES = 1000
MAX_FREQUENCY_CAP_DAYS = 3650


def frequency_cap(messages: object, days: object) -> tuple[int, int]:
    """A frequency cap: `messages` (0: none) within `days`; both 0, or both at least 1."""
    for value, field, limit in (
        (messages, "frequency_cap_messages", MAX_FREQUENCY_CAP_MESSAGES),
        (days, "frequency_cap_days", MAX_FREQUENCY_CAP_DAYS),
    ):
        if type(value) is not int or not 0 <= value <= limit:
            raise InvalidInput(field, f"must be an integer from 0 to {limit}")
    if (messages == 0) != (days == 0):
        field = "frequency_cap_days" if messages else "frequency_cap_messages"
        raise InvalidInput(field, "must be at least 1 when the other frequency cap field is (both 0: no cap)")
    return messages, days


def quiet_hours(start: object, end: object) -> tuple[str | None, str | None]:
    """Quiet hours: both None (none), or two different local times "HH:MM" (the window may
    cross midnight: 22:00 to 08:00)."""
    for value, field in ((start, "quiet_hours_start"), (end, "quiet_hours_end")):
        if value is not None and not is_time_of_day(value):
            raise InvalidInput(field, 'must be a local time "HH:MM" from 00:00 to 23:59, or null')
    if (start is None) != (end is None):
        field = "quiet_hours_end" if start is not None else "quiet_hours_start"
        raise InvalidInput(field, "quiet_hours_start and quiet_hours_end are set together (both null: none)")
    if start is not None and start == end:
        raise InvalidInput("quiet_hours_end", "must differ from quiet_hours_start")
    return start, end
