"""Marshmallow fields with the strictness the contract needs."""

from __future__ import annotations

import re
from datetime import timezone

from marshmallow import ValidationError, fields

_DIGITS = re.compile(r"^-?\d{1,19}$")


class StrictInteger(fields.Integer):
    """A JSON integer: 1.5, 1.0, true and "1" are refused, not coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class QueryInteger(fields.Integer):
    """An integer in a query string: only plain decimal digits are accepted."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not _DIGITS.match(value.strip()):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value.strip(), attr, data, **kwargs)


class AwareDateTime(fields.AwareDateTime):
    """An ISO-8601 date-time that must carry a time zone; dumped in UTC."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a valid datetime.")
        try:
            return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Date and time out of range.") from None

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value.astimezone(timezone.utc), attr, obj, **kwargs)


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"
