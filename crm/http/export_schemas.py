"""The query strings of the CSV exports."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from crm.http import fields as text
from crm.http.campaign_schemas import OUTREACH_STATUSES
from crm.http.fields import QueryBoolean

_BOM = "Start the file with a UTF-8 byte order mark, so that spreadsheets read it as UTF-8."


class ExportQuery(Schema):
    bom = QueryBoolean(load_default=False, metadata={"description": _BOM})


class CustomerExportQuery(ExportQuery):
    restaurant_id = fields.UUID(load_default=None)
    search = text.search(max_length=200, load_default=None)
    segment = fields.UUID(
        load_default=None,
        metadata={"description": "Only the customers a saved segment matches now (404 if it is not found)."},
    )


class OutreachExportQuery(ExportQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(OUTREACH_STATUSES))
