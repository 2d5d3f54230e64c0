"""RowSchema dumps exactly what marshmallow's own dump gives, faster."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields

from crm.http.campaign_schemas import OutreachSchema
from crm.http.fields import AwareDateTime
from crm.http.row_schema import RowSchema
from crm.http.schemas import CustomerSchema, VisitSchema

WHEN = datetime(2026, 12, 6, 4, 30, tzinfo=timezone.utc)


def fields_of_every_kind() -> dict:
    return {
        "id": fields.UUID(),
        "name": fields.String(allow_none=True),
        "cents": fields.Integer(),
        "dollars": fields.Function(lambda row: row.get("cents", 0) / 100 if isinstance(row, dict) else row.cents / 100),
        "renamed": fields.String(attribute="stored_as"),
        "shown_as": fields.String(data_key="shownAs"),
        "defaulted": fields.String(dump_default="nothing"),
        "at": AwareDateTime(allow_none=True),
        "tags": fields.List(fields.String()),
    }


Plain = Schema.from_dict(fields_of_every_kind(), name="Plain")
Fast = type("Fast", (RowSchema,), fields_of_every_kind())

ROWS = [
    {
        "id": uuid.UUID(int=1),
        "name": "Ann",
        "cents": 1250,
        "stored_as": "kept",
        "shown_as": "x",
        "at": WHEN,
        "tags": ["a", "b"],
        "extra": "not a field",
    },
    {"id": uuid.UUID(int=2), "name": None, "cents": 0, "at": None, "defaulted": "set"},  # None and missing values
    {},  # every value missing
    {"id": uuid.UUID(int=3), "cents": 1, "at": WHEN.replace(tzinfo=None)},  # a naive time is UTC
    {"id": str(uuid.UUID(int=6)), "name": 5, "cents": 2.0, "stored_as": None},  # values of other classes
]


@pytest.mark.parametrize("row", ROWS)
def test_a_row_dumps_as_marshmallow_dumps_it(row):
    assert Fast().dump(row) == Plain().dump(row)


def test_many_rows_and_an_object_that_is_not_a_dict_dump_as_marshmallow_dumps_them():
    assert Fast(many=True).dump(ROWS) == Plain(many=True).dump(ROWS)
    row = SimpleNamespace(id=uuid.UUID(int=4), name="Bo", cents=5, stored_as="s", at=WHEN, tags=[])
    assert Fast().dump(row) == Plain().dump(row)


@pytest.mark.parametrize("schema", [CustomerSchema, VisitSchema, OutreachSchema])
def test_the_apis_row_schemas_dump_as_marshmallow_would(schema):
    row = {name: None for name in schema().dump_fields}
    row.update(id=uuid.UUID(int=5), created_at=WHEN, total_spend_cents=1234, spend_cents=-250)
    plain = Schema.from_dict(dict(schema().dump_fields), name="PlainRow")
    assert schema().dump(row) == plain().dump(row)
