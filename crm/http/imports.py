"""/api/imports/: bring a CSV file of customers or visits into a restaurant, watch it, read its report.

The upload is answered at once (202) once the file is checked and kept; a worker then imports
its rows in batches. The body may be as long as IMPORT_MAX_BYTES (`takes_uploads`), where every
other route keeps the common limit; werkzeug spools a large file to a temporary file, whose
stream is handed to the application as it is.
"""

from __future__ import annotations

from uuid import UUID

from flask import Response, stream_with_context, url_for
from flask.views import MethodView
from flask_smorest import abort

from crm import csv_format
from crm.http.api import Blueprint
from crm.http.connections import takes_uploads
from crm.http.context import actor, crm, restaurant_of, scope
from crm.http.import_schemas import (
    ImportListQuery,
    ImportSchema,
    ImportUploadSchema,
    RejectionSchema,
    RejectionsCsvQuery,
)
from crm.http.pagination import envelope
from crm.http.responses import written
from crm.http.schemas import PageQuery, page_of

blp = Blueprint("imports", __name__, url_prefix="/api/imports", description="CSV imports of customers and visits")

REJECTION_COLUMNS = ("line", "field", "reason")
_LOCATION = {"Location": {"description": "The import's address.", "schema": {"type": "string"}, "required": True}}
_CSV = {
    "content_type": "text/csv",
    "description": "A CSV file (UTF-8, header row: line,field,reason), streamed.",
    "headers": {
        "Content-Disposition": {
            "description": "attachment; filename=...",
            "schema": {"type": "string"},
            "required": True,
        }
    },
}


def _import_or_404(import_id: UUID) -> dict:
    return crm().import_queries.import_(import_id, scope()) or abort(404, message="Import not found.")


@blp.route("/")
@takes_uploads
class Imports(MethodView):
    @blp.arguments(ImportListQuery, location="query")
    @blp.response(200, page_of(ImportSchema))
    def get(self, args):
        """List imports, newest first; filter by restaurant_id"""
        return envelope(crm().import_queries.imports(scope(), args["restaurant_id"], args["page"], args["page_size"]))

    @blp.arguments(ImportUploadSchema, location="form_and_files")
    @blp.response(202, ImportSchema, headers=_LOCATION)
    def post(self, form):
        """Upload a CSV file of customers or visits to import (multipart/form-data)

        Answered once the file is checked (a UTF-8 CSV with the columns its kind needs) and kept;
        its rows are imported in the background: follow the Location. The same file uploaded again
        to the same restaurant answers the same import and imports nothing twice.
        """
        upload = form["file"]
        recorded = crm().application.start_import(
            restaurant_of(form), form["kind"], form["filename"], upload.stream, actor=actor(), scope=scope()
        )
        location = url_for("imports.ImportDetail", import_id=recorded.id)
        return written(recorded, lambda id: crm().import_queries.import_(id, scope()), 202, {"Location": location})


@blp.route("/<uuid:import_id>/")
class ImportDetail(MethodView):
    @blp.response(200, ImportSchema)
    def get(self, import_id: UUID):
        """Where an import stands: its status, progress and counts"""
        return _import_or_404(import_id)


@blp.route("/<uuid:import_id>/rejections/")
class ImportRejections(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(RejectionSchema))
    def get(self, args, import_id: UUID):
        """The rows an import rejected, by line, each with its column and reason"""
        _import_or_404(import_id)
        return envelope(crm().import_queries.rejections(import_id, args["page"], args["page_size"]))


@blp.route("/<uuid:import_id>/rejections.csv")
class ImportRejectionsCsv(MethodView):
    @blp.arguments(RejectionsCsvQuery, location="query")
    @blp.response(200, {"type": "string"}, **_CSV)
    def get(self, args, import_id: UUID):
        """The rows an import rejected, as CSV (line, field, reason), streamed"""
        _import_or_404(import_id)
        return rejections_csv(import_id, args["bom"])


def rejections_csv(import_id: UUID, bom: bool) -> Response:
    """An import's report as a streamed attachment (also the dashboard's download)."""
    rows = ((r["line"], r["field"], r["reason"]) for r in crm().import_queries.all_rejections(import_id))
    body = csv_format.chunks(REJECTION_COLUMNS, rows, bom=bom)
    response = Response(stream_with_context(body), content_type=csv_format.CONTENT_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="import-{import_id}-rejections.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
