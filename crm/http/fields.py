"""Marshmallow fields with the strictness the contract needs: each accepts exactly what the
OpenAPI document says of it (its type, format, lengths and pattern)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from marshmallow import ValidationError, fields, validate

from crm.write_model.templates import PLACEHOLDERS
from crm.write_model.validation import MAX_EMAIL_LENGTH

_DIGITS = re.compile(r"-?[0-9]{1,19}")
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
_LATEST = datetime.max.replace(tzinfo=timezone.utc)

# Character classes of the patterns below, written so that Python, ECMAScript and Rust (the
# validators of schemathesis) read them alike: `\uXXXX` escapes only.
CONTROL = r"\u0000-\u001f\u007f-\u009f"  # Unicode's Cc, refused in names (crm.write_model.validation.text)
# What str.strip() removes besides control characters (str.isspace()), so "not blank" means the same.
SPACE = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PYTHON_SPACE = r"\u0009-\u000d\u001c-\u001f\u0085" + SPACE


class StrictInteger(fields.Integer):
    """A JSON integer: 1.5, 1.0, true and "1" are refused, not coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class QueryInteger(fields.Integer):
    """An integer in a query string: only plain ASCII decimal digits are accepted."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class QueryBoolean(fields.Boolean):
    """A boolean in a query string: `true` or `false`, as the OpenAPI document's `boolean` is
    written there (not 1, yes or on)."""

    truthy = {"true"}
    falsy = {"false"}


class Text(fields.String):
    """A string of `min_length` to `max_length` characters, all of it matching `pattern` (stated
    as the field's `pattern`, anchored: JSON Schema's patterns search, Python's fullmatch here).
    The pattern is tried only on a string of an allowed length: its cost stays bounded."""

    def __init__(self, pattern: str, message: str, *, min_length: int | None = None, max_length: int, **kwargs):
        self.regex = re.compile(f"^(?:{pattern})$")
        self.pattern_message = message
        metadata = {**kwargs.pop("metadata", {}), "pattern": self.regex.pattern}
        super().__init__(validate=validate.Length(min=min_length, max=max_length), metadata=metadata, **kwargs)
        self.length = (min_length or 0, max_length)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        low, high = self.length
        if low <= len(value) <= high and not self.regex.fullmatch(value):
            raise ValidationError(self.pattern_message)
        return value


_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# RFC 5321's Mailbox, ASCII only, with a dot-atom local part of at most 64 characters and a
# domain of at least two labels (what `format: email` checkers accept, minus quoted local parts
# and address literals).
EMAIL = rf"(?=[^@]{{1,64}}@){_LOCAL_PART}(?:\.{_LOCAL_PART})*@{_LABEL}(?:\.{_LABEL})+"
# A template (crm.write_model.templates): not blank, no NUL, braces doubled or around a placeholder.
_PLACEHOLDER = r"\{(?:" + "|".join(PLACEHOLDERS) + r")\}"
TEMPLATE = rf"(?=[{PYTHON_SPACE}]*[^{PYTHON_SPACE}])(?:[^{{}}\u0000]|\{{\{{|\}}\}}|{_PLACEHOLDER})*"


def name(*, max_length: int, **kwargs) -> Text:
    """A name (crm.write_model.validation.text): no control character, not blank."""
    return Text(
        rf"(?=[{SPACE}]*[^{CONTROL}{SPACE}])[^{CONTROL}]*",
        "must not be blank or contain control characters",
        min_length=1,
        max_length=max_length,
        **kwargs,
    )


def optional_name(*, max_length: int, **kwargs) -> Text:
    """A name that may be empty or blank: no control character."""
    return Text(rf"[^{CONTROL}]*", "must not contain control characters", max_length=max_length, **kwargs)


def email(**kwargs) -> Text:
    metadata = {**kwargs.pop("metadata", {}), "format": "email"}
    return Text(EMAIL, "Not a valid email address.", max_length=MAX_EMAIL_LENGTH, metadata=metadata, **kwargs)


def template(*, max_length: int, **kwargs) -> Text:
    return Text(
        # The capturing group changes nothing for a validator; it keeps schemathesis (4.32) from
        # folding maxLength into the pattern, which writes `\}` back unescaped (not ECMA 262).
        f"({TEMPLATE})",
        "must not be blank or hold NUL, and its braces must be doubled or around one of "
        + ", ".join("{" + placeholder + "}" for placeholder in PLACEHOLDERS),
        min_length=1,
        max_length=max_length,
        **kwargs,
    )


def search(*, max_length: int, **kwargs) -> Text:
    return Text(r"[^\u0000]+", "must not contain NUL characters", min_length=1, max_length=max_length, **kwargs)


# RFC 3339's date-time (what `format: date-time` means), with what Python cannot hold written
# out: a leap second is the next minute's first (as PostgreSQL reads it), and an instant before
# year 1 or after year 9999 in UTC is the first or the last one Python has.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 date-time as an aware UTC datetime; ValueError if it is not one."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(value)
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    offset = timedelta(hours=int(offset_hours or 0), minutes=int(offset_minutes or 0))
    if hour > 23 or minute > 59 or second > 60 or offset >= timedelta(hours=24) or int(offset_minutes or 0) > 59:
        raise ValueError(value)
    offset = -offset if sign == "-" else offset
    leap = second == 60
    if leap and (hour * 60 + minute - offset // timedelta(minutes=1)) % (24 * 60) != 23 * 60 + 59:
        raise ValueError(value)  # a leap second is 23:59:60 in UTC only
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    if year == 0:  # RFC 3339 has a year 0, Python does not: it is before every instant
        datetime(2000, month, day)  # still a day of its month (year 0, like 2000, is a leap year)
        return _EARLIEST
    local = datetime(year, month, day, hour, minute, 59 if leap else second, microsecond)
    try:
        moment = local - offset + (timedelta(seconds=1) if leap else timedelta(0))
    except OverflowError:
        return _EARLIEST if offset > timedelta(0) else _LATEST
    return moment.replace(tzinfo=timezone.utc)


class AwareDateTime(fields.AwareDateTime):
    """An RFC 3339 date-time (`format: date-time`: it carries its offset); dumped in UTC.
    `years`, a pattern of the years accepted as written (stated as the field's `pattern`)."""

    def __init__(self, *, years: str | None = None, **kwargs):
        self.years = None if years is None else re.compile(f"^(?:{years})-")
        if self.years is not None:
            kwargs["metadata"] = {**kwargs.get("metadata", {}), "pattern": self.years.pattern}
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid datetime.")
        try:
            moment = parse_rfc3339(value)
        except ValueError:
            raise ValidationError("Not a valid RFC 3339 date and time with an offset (Z or +hh:mm).") from None
        if self.years is not None and not self.years.match(value):
            raise ValidationError(f"the year must match {self.years.pattern}")
        return moment

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()  # the format is always "iso"


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"
