"""Marshmallow schemas of CSV imports: the upload (multipart/form-data), where one stands, its report."""

from __future__ import annotations

import re
import unicodedata

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_load
from werkzeug.datastructures import FileStorage

from crm.http.fields import AwareDateTime, QueryBoolean
from crm.http.schemas import PageQuery, restaurant_field
from crm.write_model.vocabulary import ImportKind, ImportStatus

MAX_FILENAME_LENGTH = 200
FILE_DESCRIPTION = (
    "The CSV file: UTF-8 (with or without a BOM), comma or semicolon separated, a header row naming "
    "the columns. Customers: email (required), first_name, last_name, email_consent (subscribed or "
    "unsubscribed), external_id. Visits: email or external_id, spend_cents or spend, visited_at, and "
    "optionally external_visit_id (docs/api.md#csv-imports)."
)
FILE_EXAMPLE = "email,first_name,last_name\nann@example.com,Ann,Lee\n"
_PATH = re.compile(r"^.*[/\\]")


def shown_filename(name: str | None) -> str:
    """The name a client gave its file, as kept: its last path part, without control characters."""
    name = _PATH.sub("", name or "")
    name = "".join(char for char in name if unicodedata.category(char) not in ("Cc", "Cs"))
    return name.strip()[-MAX_FILENAME_LENGTH:]


class CsvFile(Upload):
    """A file part of a multipart/form-data body (not a plain field of the form)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ValidationError("Send the file as a file part of a multipart/form-data body.")
        return value


class ImportUploadSchema(Schema):
    """The form of `POST /api/imports/`."""

    file = CsvFile(required=True, metadata={"description": FILE_DESCRIPTION, "example": FILE_EXAMPLE})
    kind = fields.Enum(
        ImportKind,
        by_value=True,
        required=True,
        metadata={"type": "string", "description": "What the file holds.", "example": "customers"},
    )
    restaurant = restaurant_field()

    @post_load
    def _filename(self, data: dict, **kwargs) -> dict:
        data["filename"] = shown_filename(data["file"].filename)
        return data


def percent_done(row: dict) -> int:
    """How far an import went, in whole percent (100 once completed, an empty file too)."""
    if row["status"] == ImportStatus.COMPLETED:
        return 100
    if not row["rows_total"]:
        return 0
    return min(100, row["rows_done"] * 100 // row["rows_total"])


class ImportSchema(Schema):
    """Where an import stands: its progress, and what it did with the rows so far."""

    id = fields.UUID()
    restaurant = fields.UUID()
    restaurant_name = fields.String(allow_none=True)
    kind = fields.String(metadata={"enum": [k.value for k in ImportKind]})
    filename = fields.String()
    status = fields.String(metadata={"enum": [s.value for s in ImportStatus]})
    error = fields.String(allow_none=True, metadata={"description": "Why a failed import stopped."})
    rows_total = fields.Integer(metadata={"description": "Data rows in the file (blank lines not counted)."})
    rows_done = fields.Integer(metadata={"description": "Rows gone through so far."})
    percent = fields.Function(percent_done, metadata={"type": "integer", "description": "How far it went, 0 to 100."})
    imported = fields.Integer(metadata={"description": "Rows that recorded a new customer or visit."})
    updated = fields.Integer(metadata={"description": "Rows that changed an existing customer."})
    unchanged = fields.Integer(metadata={"description": "Rows already there as they are."})
    rejected = fields.Integer(metadata={"description": "Rows refused: see the rejections."})
    started_by = fields.String()
    created_at = AwareDateTime()
    updated_at = AwareDateTime()
    finished_at = AwareDateTime(allow_none=True)


class ImportListQuery(PageQuery):
    restaurant_id = fields.UUID(load_default=None)


class RejectionSchema(Schema):
    line = fields.Integer(metadata={"description": "The line of the file the row starts on (the header is line 1)."})
    field = fields.String(metadata={"description": "The column at fault (`file` for the row's shape)."})
    reason = fields.String()


class RejectionsCsvQuery(Schema):
    bom = QueryBoolean(
        load_default=False,
        metadata={"description": "Start the file with a UTF-8 byte order mark, so that spreadsheets read it as UTF-8."},
    )
