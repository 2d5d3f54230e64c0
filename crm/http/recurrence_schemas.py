"""The body of a campaign's schedule with a recurrence, stated whole in the OpenAPI document
(the write model checks it again and names the offending key: `recurrence.at`)."""

from __future__ import annotations

from marshmallow import fields, validate

from crm.http.fields import StrictInteger
from crm.write_model.recurrence import AT_PATTERN, DEFAULT_COOLDOWN_DAYS, MAX_COOLDOWN_DAYS, WEEKDAYS, Every

RECURRENCE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["every", "at"],
    "properties": {
        "every": {"type": "string", "enum": [every.value for every in Every]},
        "at": {
            "type": "string",
            "pattern": AT_PATTERN,
            "description": "Local time, 24-hour HH:MM.",
            "example": "09:00",
        },
        "weekdays": {
            "type": "array",
            "items": {"type": "string", "enum": list(WEEKDAYS)},
            "uniqueItems": True,
            "maxItems": len(WEEKDAYS),
            "description": "For every week: the days (at least one). For every day: empty or left out.",
        },
    },
    "anyOf": [
        {"properties": {"every": {"enum": [Every.DAY.value]}, "weekdays": {"maxItems": 0}}},
        {"properties": {"every": {"enum": [Every.WEEK.value]}, "weekdays": {"minItems": 1}}, "required": ["weekdays"]},
    ],
}
_DESCRIPTION = (
    "Every day, or every week on some weekdays, at a local time of the restaurant's time zone "
    "(a time the clocks skip runs when they jump; one they pass twice runs once, at the first). "
    "Null when the campaign does not recur."
)


def recurrence_field(**options) -> fields.Raw:
    """A recurrence: as a body states it, and (nullable) as a campaign shows it."""
    return fields.Raw(metadata={**RECURRENCE, "description": _DESCRIPTION}, **options)


def cooldown_field(**options) -> fields.Integer:
    return StrictInteger(
        validate=validate.Range(min=0, max=MAX_COOLDOWN_DAYS),
        metadata={
            "description": "With a recurrence: each occurrence leaves out whom an earlier occurrence of the series "
            f"messaged within this many days before its start (0: nobody). Default {DEFAULT_COOLDOWN_DAYS}."
        },
        **options,
    )


# The schedule body: a time, a recurrence, or both (the time is then the first occurrence); a
# cooldown only with a recurrence.
SCHEDULE_RULES = {
    "anyOf": [
        {"required": ["recurrence"]},
        {"required": ["scheduled_for"], "not": {"required": ["recurrence_cooldown_days"]}},
    ]
}
