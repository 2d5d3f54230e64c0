"""Marshmallow schemas of campaigns and their outreach records (the statuses are the vocabulary's enums)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from crm.http.fields import AwareDateTime, StrictInteger
from crm.http.schemas import CursorPageQuery, InputSchema, PageQuery, name_length
from crm.write_model.vocabulary import SEGMENT_LIMITS, CampaignStatus, OutreachStatus, SegmentType

SEGMENT_TYPES = tuple(SegmentType)
OUTREACH_STATUSES = tuple(OutreachStatus)
MAX_SEGMENT_VALUE = max(SEGMENT_LIMITS.values())  # the write model checks each type's own limit
_campaign_read_only = (
    "id",
    "restaurant_name",
    "created_at",
    "started_at",
    "completed_at",
    "failed_retried_at",
    "stats",
)
_template = dict(validate=validate.Length(min=1, max=2000))


class CampaignStatsSchema(Schema):
    audience = fields.Integer(allow_none=True)
    excluded_unsubscribed = fields.Integer(
        metadata={"description": "In the segment at the start, left out because they had unsubscribed."}
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
    segment_value = fields.Integer()
    subject = fields.String()
    message_template = fields.String()
    created_at = AwareDateTime()
    started_at = AwareDateTime(allow_none=True)
    completed_at = AwareDateTime(allow_none=True)
    failed_retried_at = AwareDateTime(
        allow_none=True, metadata={"description": "When its failed outreach was queued again (retry-failed, once)"}
    )
    stats = fields.Nested(CampaignStatsSchema)


class CampaignPatchSchema(InputSchema):
    read_only_fields = _campaign_read_only + ("restaurant",)
    name = fields.String(**name_length)
    segment_type = fields.String(validate=validate.OneOf(SEGMENT_TYPES))
    segment_value = StrictInteger(validate=validate.Range(min=0, max=MAX_SEGMENT_VALUE))
    subject = fields.String(**_template)
    message_template = fields.String(**_template)

    @pre_load
    def _status_is_not_writable(self, data, **kwargs):
        # Not a field of the document (a client cannot write it), but named in the refusal.
        if isinstance(data, dict) and "status" in data and "status" not in self.fields:
            raise ValidationError({"status": ["status cannot be set; use the run, pause, resume and cancel controls"]})
        return data


class CampaignUpdateSchema(CampaignPatchSchema):
    name = fields.String(required=True, **name_length)
    segment_type = fields.String(required=True, validate=validate.OneOf(SEGMENT_TYPES))
    segment_value = StrictInteger(required=True, validate=validate.Range(min=0, max=MAX_SEGMENT_VALUE))
    message_template = fields.String(required=True, **_template)


class CampaignCreateSchema(CampaignUpdateSchema):
    read_only_fields = _campaign_read_only
    restaurant = fields.UUID(load_default=None)
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


class CampaignListQuery(PageQuery):
    restaurant_id = fields.UUID(load_default=None)


class PreviewMessageSchema(Schema):
    customer = fields.UUID()
    subject = fields.String()
    message = fields.String()


class CampaignPreviewSchema(Schema):
    audience = fields.Integer()
    samples = fields.List(fields.Nested(PreviewMessageSchema))


class OutreachSchema(Schema):
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
