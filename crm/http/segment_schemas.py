"""Marshmallow schemas of saved segments and of rule counts."""

from __future__ import annotations

from marshmallow import Schema, fields

from crm.http.fields import AwareDateTime
from crm.http.schemas import CursorPageQuery, CustomerSchema, InputSchema, PageQuery, name_field, restaurant_field
from crm.http.segment_rule_schema import RULE, ref

RULE_DESCRIPTION = (
    'A rule tree: {"all": [...]}, {"any": [...]}, {"not": {...}} and conditions '
    '{"field", "op", "value"} (plus "days" for a window, "campaign" for received_campaign); '
    "at most 5 levels deep and 30 conditions (docs/api.md#rules)."
)


def rule_field(**options) -> fields.Raw:
    """A segment rule: stated by the SegmentRule components, checked by the write model, which
    names the offending node (`rule.all[2].op`)."""
    return fields.Raw(metadata={"description": RULE_DESCRIPTION, "allOf": [ref(RULE)]}, **options)


_segment_read_only = ("id", "restaurant_name", "created_at", "updated_at")


class SegmentSchema(Schema):
    id = fields.UUID()
    restaurant = fields.UUID()
    restaurant_name = fields.String(allow_none=True)
    name = fields.String()
    rule = rule_field()
    created_at = AwareDateTime()
    updated_at = AwareDateTime()


class SegmentCreateSchema(InputSchema):
    read_only_fields = _segment_read_only
    restaurant = restaurant_field()
    name = name_field(required=True)
    rule = rule_field(required=True)


class SegmentPatchSchema(InputSchema):
    read_only_fields = _segment_read_only + ("restaurant",)
    name = name_field()
    rule = rule_field()


class SegmentUpdateSchema(SegmentPatchSchema):
    name = name_field(required=True)
    rule = rule_field(required=True)


class SegmentListQuery(PageQuery):
    restaurant_id = fields.UUID(load_default=None)


class SegmentMembersQuery(CursorPageQuery):
    pass


class SegmentCountSchema(InputSchema):
    restaurant = restaurant_field()
    rule = rule_field(required=True)


class SegmentCountResultSchema(Schema):
    count = fields.Integer(metadata={"description": "Customers who match the rule now (not deleted)."})
    sample = fields.List(fields.Nested(CustomerSchema), metadata={"description": "Up to 5 of them."})
