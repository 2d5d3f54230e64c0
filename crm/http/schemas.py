"""Request and response schemas of the REST API."""

from __future__ import annotations

from functools import cache

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from crm.http import fields as text
from crm.http.fields import AwareDateTime, QueryInteger, StrictInteger, dollars
from crm.http.row_schema import RowSchema
from crm.read_model import cursors
from crm.write_model.quiet_hours import PATTERN as QUIET_HOURS_PATTERN
from crm.write_model.validation import (
    MAX_FREQUENCY_CAP_DAYS,
    MAX_FREQUENCY_CAP_MESSAGES,
    MAX_NAME_LENGTH,
    MAX_VISIT_SPEND_CENTS,
    TIMEZONES,
)
from crm.write_model.vocabulary import SEGMENT_LIMITS, ConsentSource, EmailConsent, SegmentType

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class InputSchema(Schema):
    """Refuses unknown fields; silently drops the read-only ones a client echoes back.

    `rules` are JSON Schema keywords on the whole body (`anyOf` for rules between fields) that
    the OpenAPI document states beside the fields (crm.http.openapi); the schema enforces them."""

    read_only_fields: tuple[str, ...] = ()
    rules: dict = {}

    @pre_load
    def _drop_read_only(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in self.read_only_fields}
        return data


# -- pagination ---------------------------------------------------------------------------


class PageQuery(Schema):
    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=10_000_000))
    page_size = QueryInteger(load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class CursorPageQuery(PageQuery):
    """A list that also pages by cursor: its `next` links carry `after`, so that deep pages
    cost what the first does (a page number alone still works)."""

    after = fields.String(
        load_default=None,
        allow_none=False,
        metadata={
            "pattern": cursors.PATTERN,
            "description": "Where the page starts, after a position of the list's order: the `next` link "
            "of the page before sets it. Any value of this pattern is a position (cursors of the earlier, "
            "base64 form are still read).",
        },
    )


@cache
def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The paginated envelope `{"count", "next", "previous", "results"}` for an item schema."""
    return Schema.from_dict(
        {
            "count": fields.Integer(required=True),
            "next": fields.String(allow_none=True),
            "previous": fields.String(allow_none=True),
            "results": fields.Nested(item_schema, many=True, required=True),
        },
        name=f"{item_schema.__name__.removesuffix('Schema')}Page",
    )


# -- restaurants --------------------------------------------------------------------------


def name_field(**options) -> fields.String:
    return text.name(max_length=MAX_NAME_LENGTH, **options)


_CAP = {
    "frequency_cap_messages": (
        MAX_FREQUENCY_CAP_MESSAGES,
        "At most this many messages to one customer within frequency_cap_days (0: no cap).",
    ),
    "frequency_cap_days": (MAX_FREQUENCY_CAP_DAYS, "The window of the frequency cap, in days (0: no cap)."),
}


def _cap_field(name: str, **options) -> fields.Integer:
    limit, description = _CAP[name]
    return StrictInteger(validate=validate.Range(min=0, max=limit), metadata={"description": description}, **options)


def together(first: str, second: str, *pairs: dict, alone: tuple[dict, ...] = ()) -> dict:
    """The `anyOf` of a body whose two fields are sent together or not at all (so no rule
    between them depends on what the server holds), each pair they form being one of `pairs`;
    `alone`, the ways one of them may still be sent without the other."""
    neither = {"not": {"anyOf": [{"required": [first]}, {"required": [second]}]}}
    return {"anyOf": [neither, *alone, *({**pair, "required": [first, second]} for pair in pairs)]}


def require_together(data: dict, first: str, second: str, what: str) -> None:
    """`together`'s check: a ValidationError naming both fields."""
    if (first in data) != (second in data):
        message = f"{first} and {second} are sent together: {what}"
        raise ValidationError({first: [message], second: [message]})


def _caps(messages: dict, days: dict) -> dict:
    return {"properties": {"frequency_cap_messages": messages, "frequency_cap_days": days}}


_NO_CAP, _A_CAP = _caps({"maximum": 0}, {"maximum": 0}), _caps({"minimum": 1}, {"minimum": 1})
_QUIET = {
    "quiet_hours_start": "Local time (the restaurant's time zone, HH:MM) from which no message is sent; "
    "set together with quiet_hours_end (both null: no quiet hours). The window may cross midnight "
    "(22:00 to 08:00); start and end differ.",
    "quiet_hours_end": "Local time (HH:MM) from which messages go out again; set together with quiet_hours_start.",
}


def _quiet_field(name: str, **options) -> fields.String:
    return fields.String(
        allow_none=True,
        validate=validate.Regexp(QUIET_HOURS_PATTERN, error="must be a local time HH:MM from 00:00 to 23:59"),
        metadata={"description": _QUIET[name], "example": "22:00" if name == "quiet_hours_start" else "08:00"},
        **options,
    )


def _quiet(start: dict, end: dict) -> dict:
    return {"properties": {"quiet_hours_start": start, "quiet_hours_end": end}}


_NO_QUIET = _quiet({"nullable": True, "enum": [None]}, {"nullable": True, "enum": [None]})
_A_QUIET = _quiet({"type": "string"}, {"type": "string"})


class RestaurantSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True)
    timezone = fields.String()
    created_at = AwareDateTime(dump_only=True)
    frequency_cap_messages = fields.Integer(metadata={"description": _CAP["frequency_cap_messages"][1]})
    frequency_cap_days = fields.Integer(metadata={"description": _CAP["frequency_cap_days"][1]})
    quiet_hours_start = fields.String(allow_none=True, metadata={"description": _QUIET["quiet_hours_start"]})
    quiet_hours_end = fields.String(allow_none=True, metadata={"description": _QUIET["quiet_hours_end"]})


def _quiet_together(data: dict) -> None:
    """Quiet hours are both times or both null (whether their times differ is the write model's)."""
    if (data.get("quiet_hours_start") is None) != (data.get("quiet_hours_end") is None):
        message = "quiet_hours_start and quiet_hours_end are set together: both HH:MM, or both null (none)"
        raise ValidationError({"quiet_hours_start": [message], "quiet_hours_end": [message]})


class RestaurantCreateSchema(InputSchema):
    read_only_fields = ("id", "created_at")
    # Caps: both 0 (or left out: 0), or both at least 1. Quiet hours: neither (or null), or both.
    rules = {
        "allOf": [
            {"anyOf": [_NO_CAP, {**_A_CAP, "required": ["frequency_cap_messages", "frequency_cap_days"]}]},
            {"anyOf": [_NO_QUIET, {**_A_QUIET, "required": ["quiet_hours_start", "quiet_hours_end"]}]},
        ]
    }
    name = name_field(required=True)
    timezone = fields.String(load_default="UTC", validate=validate.OneOf(TIMEZONES))
    frequency_cap_messages = _cap_field("frequency_cap_messages", load_default=0)
    frequency_cap_days = _cap_field("frequency_cap_days", load_default=0)
    quiet_hours_start = _quiet_field("quiet_hours_start", load_default=None)
    quiet_hours_end = _quiet_field("quiet_hours_end", load_default=None)

    @validates_schema
    def _quiet_hours_together(self, data, **kwargs):
        _quiet_together(data)


class RestaurantPatchSchema(InputSchema):
    read_only_fields = ("id", "created_at")
    rules = {
        "allOf": [
            together("frequency_cap_messages", "frequency_cap_days", _NO_CAP, _A_CAP),
            together("quiet_hours_start", "quiet_hours_end", _NO_QUIET, _A_QUIET),
        ]
    }
    name = name_field()
    timezone = fields.String(validate=validate.OneOf(TIMEZONES))
    frequency_cap_messages = _cap_field("frequency_cap_messages")
    frequency_cap_days = _cap_field("frequency_cap_days")
    quiet_hours_start = _quiet_field("quiet_hours_start")
    quiet_hours_end = _quiet_field("quiet_hours_end")

    @validates_schema
    def _cap_together(self, data, **kwargs):
        require_together(data, "frequency_cap_messages", "frequency_cap_days", "both 0 (no cap) or both at least 1")
        require_together(data, "quiet_hours_start", "quiet_hours_end", "both HH:MM, or both null (none)")
        _quiet_together(data)


class RestaurantUpdateSchema(RestaurantPatchSchema):
    name = name_field(required=True)


# -- customers ----------------------------------------------------------------------------

_customer_read_only = (
    "id",
    "restaurant_name",
    "total_spend_cents",
    "total_spend_dollars",
    "visit_count",
    "last_visit_at",
    "created_at",
    "email_consent",  # changed by unsubscribe / resubscribe only
    "email_consent_changed_at",
)


class CustomerSchema(RowSchema):
    id = fields.UUID()
    restaurant = fields.UUID()
    restaurant_name = fields.String(allow_none=True)
    email = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    total_spend_cents = fields.Integer()
    total_spend_dollars = fields.Function(lambda c: dollars(c["total_spend_cents"]))
    visit_count = fields.Integer()
    last_visit_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()
    email_consent = fields.String(
        validate=validate.OneOf(tuple(EmailConsent)),
        metadata={"description": "Consent to marketing email; campaigns never message an unsubscribed customer."},
    )
    email_consent_changed_at = AwareDateTime(
        allow_none=True, metadata={"description": "When consent last changed (registration, if never)."}
    )
    external_id = fields.String(
        allow_none=True, metadata={"description": "The customer's id in another system, set by a CSV import."}
    )
    as_of = AwareDateTime(metadata={"description": "Present when the customer was rebuilt with ?as_of="})


class ConsentChangeSchema(Schema):
    email_consent = fields.String(validate=validate.OneOf(tuple(EmailConsent)))
    source = fields.String(validate=validate.OneOf(tuple(ConsentSource)))
    changed_at = AwareDateTime()


class ExportedVisitSchema(Schema):
    id = fields.UUID()
    visited_at = AwareDateTime()
    spend_cents = fields.Integer()


class ExportedOutreachSchema(Schema):
    id = fields.UUID()
    campaign = fields.UUID()
    campaign_name = fields.String()
    channel = fields.String()
    status = fields.String()
    error_message = fields.String(allow_none=True)
    attempts = fields.Integer()
    sent_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()


class CustomerExportSchema(Schema):
    """Everything held about one customer (GDPR access and portability)."""

    exported_at = AwareDateTime()
    customer = fields.Nested(CustomerSchema)
    consent_history = fields.List(
        fields.Nested(ConsentChangeSchema),
        metadata={"description": "Changes since registration (every customer starts subscribed), oldest first."},
    )
    visits = fields.List(fields.Nested(ExportedVisitSchema))
    outreach = fields.List(fields.Nested(ExportedOutreachSchema))


def restaurant_field() -> fields.UUID:
    """The restaurant a create is for: an admin key names it, a restaurant key may leave it out."""
    return fields.UUID(
        load_default=None,
        allow_none=False,
        metadata={"description": "Required with an admin key; a restaurant key may leave it out (its own)."},
    )


def _person(**options) -> fields.String:
    return text.optional_name(max_length=MAX_NAME_LENGTH, **options)


class CustomerCreateSchema(InputSchema):
    read_only_fields = _customer_read_only
    restaurant = restaurant_field()
    email = text.email(required=True)
    first_name = _person(load_default="")
    last_name = _person(load_default="")


class CustomerPatchSchema(InputSchema):
    read_only_fields = _customer_read_only + ("restaurant",)
    email = text.email()
    first_name = _person()
    last_name = _person()


class CustomerUpdateSchema(CustomerPatchSchema):
    email = text.email(required=True)


class CustomerListQuery(CursorPageQuery):
    restaurant_id = fields.UUID(load_default=None)
    search = text.search(max_length=200, load_default=None)


class CustomerQuery(Schema):
    as_of = AwareDateTime(load_default=None)


class InactiveQuery(CursorPageQuery):
    restaurant_id = fields.UUID(load_default=None)
    days = QueryInteger(load_default=30, validate=validate.Range(min=0, max=36_500))


class HighSpendersQuery(CursorPageQuery):
    restaurant_id = fields.UUID(load_default=None)
    min_spend_cents = QueryInteger(
        load_default=50_000, validate=validate.Range(min=0, max=SEGMENT_LIMITS[SegmentType.HIGH_SPENDERS])
    )


class HistoryEventSchema(Schema):
    type = fields.String()
    version = fields.Integer()
    occurred_at = fields.String()
    actor = fields.String()
    data = fields.Dict()


class HistorySchema(Schema):
    customer = fields.UUID()
    events = fields.List(fields.Nested(HistoryEventSchema))


# -- visits -------------------------------------------------------------------------------

_spend = dict(validate=validate.Range(min=0, max=MAX_VISIT_SPEND_CENTS))
_visit_read_only = ("id", "customer_email", "spend_dollars")
_VISIT_YEARS = "19[7-9][0-9]|[2-9][0-9]{3}"  # from crm.write_model.validation.EARLIEST_VISIT's year


def _visit_time(**options) -> AwareDateTime:
    return AwareDateTime(
        years=_VISIT_YEARS,
        metadata={
            "description": "When the visit happened: from 1970-01-01T00:00:00Z to the server's now (5 minutes "
            "of clock skew allowed); a later time is refused (400). Its year as written is 1970 or later."
        },
        **options,
    )


class VisitSchema(RowSchema):
    id = fields.UUID()
    customer = fields.UUID()
    customer_email = fields.String()
    visited_at = AwareDateTime()
    spend_cents = fields.Integer()
    spend_dollars = fields.Function(lambda v: dollars(v["spend_cents"]))


class AddVisitSchema(InputSchema):
    read_only_fields = _visit_read_only + ("customer",)
    spend_cents = StrictInteger(required=True, **_spend)
    visited_at = _visit_time(load_default=None)  # null or left out: now


class VisitCreateSchema(AddVisitSchema):
    read_only_fields = _visit_read_only
    customer = fields.UUID(required=True)


class VisitPatchSchema(InputSchema):
    read_only_fields = _visit_read_only + ("customer",)
    spend_cents = StrictInteger(**_spend)
    visited_at = _visit_time()


class VisitUpdateSchema(VisitPatchSchema):
    spend_cents = StrictInteger(required=True, **_spend)


class VisitListQuery(PageQuery):
    customer_id = fields.UUID(load_default=None)
