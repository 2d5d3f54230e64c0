"""Marshmallow schemas of campaigns and their outreach records (the statuses are the vocabulary's enums)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_dump, post_load, pre_load, validate, validates_schema

from crm.http import fields as text
from crm.http.fields import AwareDateTime, StrictInteger
from crm.http.recurrence_schemas import SCHEDULE_RULES, cooldown_field, recurrence_field
from crm.http.row_schema import RowSchema
from crm.http.schemas import (
    CursorPageQuery,
    InputSchema,
    PageQuery,
    name_field,
    require_together,
    restaurant_field,
)
from crm.http.segment_schemas import rule_field
from crm.write_model.segment_rules import shorthand_rule
from crm.write_model.templates import MAX_TEMPLATE_LENGTH
from crm.write_model.vocabulary import (
    SCHEDULE_HORIZON,
    SEGMENT_LIMITS,
    SHORTHAND_SEGMENTS,
    CampaignStatus,
    OutreachStatus,
    SegmentType,
)

SEGMENT_TYPES = tuple(SegmentType)  # as shown; a client sends a shorthand's, or a rule, or a segment
SHORTHAND_TYPES = tuple(SHORTHAND_SEGMENTS)
OUTREACH_STATUSES = tuple(OutreachStatus)
MAX_SEGMENT_VALUE = max(SEGMENT_LIMITS.values())
_campaign_read_only = (
    "id",
    "restaurant_name",
    "created_at",
    "started_at",
    "completed_at",
    "failed_retried_at",
    "scheduled_for",  # set by the schedule control only
    "recurrence",
    "recurrence_cooldown_days",
    "series",
    "stats",
)
# Each segment type with the range of its values (crm.write_model.campaigning.validated_details).
_SEGMENTS = [
    {"properties": {"segment_type": {"enum": [kind.value]}, "segment_value": {"maximum": limit}}}
    for kind, limit in SEGMENT_LIMITS.items()
]
# A change of one without the other fits whatever the campaign holds: a value within every
# type's range, or a type whose range holds every value.
_VALUE_FOR_ANY_TYPE = min(SEGMENT_LIMITS.values())
_TYPES_FOR_ANY_VALUE = [kind.value for kind, limit in SEGMENT_LIMITS.items() if limit == MAX_SEGMENT_VALUE]
_SEGMENT_ALONE = (
    {
        "required": ["segment_value"],
        "not": {"required": ["segment_type"]},
        "properties": {"segment_value": {"maximum": _VALUE_FOR_ANY_TYPE}},
    },
    {
        "required": ["segment_type"],
        "not": {"required": ["segment_value"]},
        "properties": {"segment_type": {"enum": _TYPES_FOR_ANY_VALUE}},
    },
)


# A body names its segment one way: a shorthand (type and value), a rule, or a saved segment.
_FORMS = {"shorthand": ("segment_type", "segment_value"), "rule": ("segment_rule",), "segment": ("segment",)}


def _only(*form: str) -> dict:
    """No field of the other forms."""
    others = [field for fields_ in _FORMS.values() if fields_ != form for field in fields_]
    return {"not": {"anyOf": [{"required": [field]} for field in others]}}


_SHORTHANDS = [
    {**segment, **_only(*_FORMS["shorthand"]), "required": list(_FORMS["shorthand"])} for segment in _SEGMENTS
]
_RULE_OR_SAVED = (
    {"required": ["segment_rule"], **_only("segment_rule")},
    {"required": ["segment"], **_only("segment")},
)


def check_one_segment(data: dict, required: bool) -> None:
    """At most one form of segment in a body (exactly one if `required`)."""
    given = [name for name, fields_ in _FORMS.items() if any(f in data for f in fields_)]
    if len(given) > 1:
        message = "name the segment one way: segment_type and segment_value, or segment_rule, or segment"
        raise ValidationError({field: [message] for name in given for field in _FORMS[name] if field in data})
    if required and not given:
        raise ValidationError(
            {"segment_type": ["Missing data for required field (or give a segment_rule or a segment)."]}
        )
    if given == ["shorthand"] and required:
        require_together(data, "segment_type", "segment_value", "a shorthand segment is a type and its value")


def _template(**options) -> fields.String:
    return text.template(max_length=MAX_TEMPLATE_LENGTH, **options)


def _segment_value(**options) -> fields.Integer:
    limits = ", ".join(f"{limit} for {kind}" for kind, limit in SEGMENT_LIMITS.items())
    return StrictInteger(
        validate=validate.Range(min=0, max=MAX_SEGMENT_VALUE), metadata={"description": f"At most {limits}."}, **options
    )


class CampaignStatsSchema(Schema):
    audience = fields.Integer(allow_none=True)
    excluded_unsubscribed = fields.Integer(
        metadata={"description": "In the segment at the start, left out because they had unsubscribed."}
    )
    excluded_cooldown = fields.Integer(
        metadata={
            "description": "In the segment at the start of an occurrence, left out because an earlier "
            "occurrence of its series messaged them within the cooldown."
        }
    )
    queued = fields.Integer()
    sent = fields.Integer()
    failed = fields.Integer()
    skipped = fields.Integer()


class CampaignSchema(Schema):
    id = fields.UUID()
    restaurant = fields.UUID()
    restaurant_name = fields.String(allow_none=True)
    name = fields.String()
    status = fields.String(validate=validate.OneOf(tuple(CampaignStatus)))  # shown as an enum in OpenAPI
    segment_type = fields.String(validate=validate.OneOf(SEGMENT_TYPES))
    segment_value = fields.Integer(
        allow_none=True, metadata={"description": "The shorthand's value; null for a rule or a saved segment."}
    )
    segment_rule = fields.Method(
        "_rule",
        metadata={
            "type": "object",
            "nullable": True,
            "description": "The campaign's rule: its own, or a shorthand's as a rule; null for a saved segment.",
        },
    )
    segment = fields.UUID(attribute="segment_id", allow_none=True, metadata={"description": "The saved segment."})
    subject = fields.String()
    message_template = fields.String()
    created_at = AwareDateTime()
    started_at = AwareDateTime(allow_none=True)
    completed_at = AwareDateTime(allow_none=True)
    failed_retried_at = AwareDateTime(
        allow_none=True, metadata={"description": "When its failed outreach was queued again (retry-failed, once)"}
    )
    scheduled_for = AwareDateTime(
        allow_none=True,
        metadata={
            "description": "While it is scheduled: when it starts (UTC), a recurring campaign's next occurrence. "
            "Null when it is not scheduled."
        },
    )
    recurrence = recurrence_field(allow_none=True)
    recurrence_cooldown_days = fields.Integer(
        allow_none=True, metadata={"description": "A recurring campaign's cooldown in days; null when none."}
    )
    series = fields.UUID(
        attribute="series_id",
        allow_none=True,
        metadata={"description": "An occurrence's recurring campaign (the series); null for any other campaign."},
    )
    stats = fields.Nested(CampaignStatsSchema)

    @staticmethod
    def _rule(campaign: dict) -> dict | None:
        if campaign["segment_type"] in SHORTHAND_TYPES:
            return shorthand_rule(campaign["segment_type"], campaign["segment_value"])
        return campaign.get("segment_rule")

    @post_dump
    def _value_of_shorthands_only(self, data, **kwargs):
        if data.get("segment_type") not in SHORTHAND_TYPES and "segment_value" in data:
            data["segment_value"] = None
        return data


class CampaignPatchSchema(InputSchema):
    read_only_fields = _campaign_read_only + ("restaurant",)
    rules = {
        "anyOf": [
            _only(),  # the segment as it is
            *({"allOf": [alone, _only(*_FORMS["shorthand"])]} for alone in _SEGMENT_ALONE),
            *({**shorthand, "required": list(_FORMS["shorthand"])} for shorthand in _SHORTHANDS),
            *_RULE_OR_SAVED,
        ]
    }
    name = name_field()
    segment_type = fields.String(validate=validate.OneOf(SHORTHAND_TYPES))
    segment_value = _segment_value()
    segment_rule = rule_field()
    segment_id = fields.UUID(data_key="segment", metadata={"description": "A saved segment of the restaurant."})
    subject = _template()
    message_template = _template()

    segment_required = False  # a patch may leave the segment as it is

    @pre_load
    def _status_is_not_writable(self, data, **kwargs):
        # Not a field of the document (a client cannot write it), but named in the refusal.
        if isinstance(data, dict) and "status" in data and "status" not in self.fields:
            raise ValidationError({"status": ["status cannot be set; use the run, pause, resume and cancel controls"]})
        return data

    @validates_schema
    def _segment_together(self, data, **kwargs):
        check_one_segment({("segment" if k == "segment_id" else k): v for k, v in data.items()}, self.segment_required)
        value, kind = data.get("segment_value"), data.get("segment_type")
        if (value is not None and value <= _VALUE_FOR_ANY_TYPE) or kind in _TYPES_FOR_ANY_VALUE:
            return  # alone, it fits any campaign
        require_together(data, "segment_type", "segment_value", "the value's range depends on the type")


class CampaignUpdateSchema(CampaignPatchSchema):
    rules = {"anyOf": [*_SHORTHANDS, *_RULE_OR_SAVED]}
    segment_required = True
    name = name_field(required=True)
    message_template = _template(required=True)


class CampaignCreateSchema(CampaignUpdateSchema):
    read_only_fields = _campaign_read_only
    restaurant = restaurant_field()
    status = fields.String(
        load_only=True,
        validate=validate.OneOf(
            [CampaignStatus.DRAFT], error="a new campaign is always 'draft'; omit status or send 'draft'"
        ),
    )

    @post_load
    def _without_status(self, data, **kwargs):
        data.pop("status", None)
        return data


class CampaignScheduleSchema(InputSchema):
    rules = SCHEDULE_RULES
    scheduled_for = AwareDateTime(
        metadata={
            "description": "When the draft starts: a date and time with its offset (e.g. 2027-01-31T09:00:00+01:00), "
            f"in the future, at most {SCHEDULE_HORIZON.days} days ahead. With a recurrence: its first occurrence "
            "(left out: the recurrence's next)."
        },
    )
    recurrence = recurrence_field()
    recurrence_cooldown_days = cooldown_field()


class CampaignListQuery(PageQuery):
    restaurant_id = fields.UUID(load_default=None)


class PreviewMessageSchema(Schema):
    customer = fields.UUID()
    subject = fields.String()
    message = fields.String()


class CampaignPreviewSchema(Schema):
    audience = fields.Integer()
    samples = fields.List(fields.Nested(PreviewMessageSchema))


class OutreachSchema(RowSchema):
    id = fields.UUID()
    campaign = fields.UUID()
    campaign_name = fields.String(allow_none=True)
    customer = fields.UUID()
    customer_email = fields.String(allow_none=True)
    channel = fields.String()
    status = fields.String(validate=validate.OneOf(OUTREACH_STATUSES))
    error_message = fields.String(allow_none=True)
    attempts = fields.Integer()
    sent_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()


class OutreachStatusQuery(CursorPageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(OUTREACH_STATUSES))


class OutreachListQuery(OutreachStatusQuery):
    campaign_id = fields.UUID(load_default=None)
