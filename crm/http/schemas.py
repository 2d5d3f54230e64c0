"""Request and response schemas of the REST API."""

from __future__ import annotations

from functools import cache

from marshmallow import Schema, fields, pre_load, validate

from crm.http.fields import AwareDateTime, QueryInteger, StrictInteger, dollars
from crm.read_model import cursors
from crm.write_model.validation import (
    MAX_EMAIL_LENGTH,
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
    """Refuses unknown fields; silently drops the read-only ones a client echoes back."""

    read_only_fields: tuple[str, ...] = ()

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
            "results": fields.List(fields.Nested(item_schema), required=True),
        },
        name=f"{item_schema.__name__.removesuffix('Schema')}Page",
    )


# -- restaurants --------------------------------------------------------------------------

name_length = dict(validate=validate.Length(min=1, max=MAX_NAME_LENGTH))


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


class RestaurantSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True)
    timezone = fields.String()
    created_at = AwareDateTime(dump_only=True)
    frequency_cap_messages = fields.Integer(metadata={"description": _CAP["frequency_cap_messages"][1]})
    frequency_cap_days = fields.Integer(metadata={"description": _CAP["frequency_cap_days"][1]})


class RestaurantCreateSchema(InputSchema):
    read_only_fields = ("id", "created_at")
    name = fields.String(required=True, **name_length)
    timezone = fields.String(load_default="UTC", validate=validate.OneOf(TIMEZONES))
    frequency_cap_messages = _cap_field("frequency_cap_messages", load_default=0)
    frequency_cap_days = _cap_field("frequency_cap_days", load_default=0)


class RestaurantPatchSchema(InputSchema):
    read_only_fields = ("id", "created_at")
    name = fields.String(**name_length)
    timezone = fields.String(validate=validate.OneOf(TIMEZONES))
    frequency_cap_messages = _cap_field("frequency_cap_messages")
    frequency_cap_days = _cap_field("frequency_cap_days")


class RestaurantUpdateSchema(RestaurantPatchSchema):
    name = fields.String(required=True, **name_length)


# -- customers ----------------------------------------------------------------------------

_email = dict(validate=validate.Length(max=MAX_EMAIL_LENGTH))  # fields.Email: `format: email` in the document
_person = dict(validate=validate.Length(max=MAX_NAME_LENGTH))
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


class CustomerSchema(Schema):
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


class CustomerCreateSchema(InputSchema):
    read_only_fields = _customer_read_only
    restaurant = fields.UUID(load_default=None)
    email = fields.Email(required=True, **_email)
    first_name = fields.String(load_default="", **_person)
    last_name = fields.String(load_default="", **_person)


class CustomerPatchSchema(InputSchema):
    read_only_fields = _customer_read_only + ("restaurant",)
    email = fields.Email(**_email)
    first_name = fields.String(**_person)
    last_name = fields.String(**_person)


class CustomerUpdateSchema(CustomerPatchSchema):
    email = fields.Email(required=True, **_email)


class CustomerListQuery(CursorPageQuery):
    restaurant_id = fields.UUID(load_default=None)
    search = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


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


class VisitSchema(Schema):
    id = fields.UUID()
    customer = fields.UUID()
    customer_email = fields.String()
    visited_at = AwareDateTime()
    spend_cents = fields.Integer()
    spend_dollars = fields.Function(lambda v: dollars(v["spend_cents"]))


class AddVisitSchema(InputSchema):
    read_only_fields = _visit_read_only + ("customer",)
    spend_cents = StrictInteger(required=True, **_spend)
    visited_at = AwareDateTime(load_default=None)


class VisitCreateSchema(AddVisitSchema):
    read_only_fields = _visit_read_only
    customer = fields.UUID(required=True)


class VisitPatchSchema(InputSchema):
    read_only_fields = _visit_read_only + ("customer",)
    spend_cents = StrictInteger(**_spend)
    visited_at = AwareDateTime()


class VisitUpdateSchema(VisitPatchSchema):
    spend_cents = StrictInteger(required=True, **_spend)


class VisitListQuery(PageQuery):
    customer_id = fields.UUID(load_default=None)
