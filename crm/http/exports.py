"""CSV exports: the customers (as listed, or a saved segment's) and a campaign's outreach records.

The file is streamed: rows are read from the database as they are sent, so memory stays flat
whatever the size. Everything that can refuse the request (input, tenancy, an unknown id) is
decided before the first byte, so an error is still a JSON answer with its status.
"""

from __future__ import annotations

from uuid import UUID

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import abort

from crm import csv_format
from crm.http.api import Blueprint
from crm.http.context import crm, scope
from crm.http.export_schemas import CustomerExportQuery, OutreachExportQuery
from crm.read_model.export_queries import CUSTOMER_COLUMNS, OUTREACH_COLUMNS, Export

blp = Blueprint("exports", __name__, url_prefix="/api", description="CSV exports of customers and outreach records")


def _documented(columns: tuple[str, ...]) -> dict:
    """The success answer of an export in the OpenAPI document."""
    return {
        "content_type": "text/csv",
        "description": "A CSV file (UTF-8, header row: " + ",".join(columns) + "), streamed.",
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=...",
                "schema": {"type": "string"},
                "required": True,
            }
        },
    }


def csv_file(export: Export, filename: str, bom: bool) -> Response:
    """The export as a streamed attachment: its rows are read while it is sent."""
    body = csv_format.chunks(export.columns, export.rows, bom=bom)
    response = Response(stream_with_context(body), content_type=csv_format.CONTENT_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/customers/export.csv")
class CustomersExport(MethodView):
    @blp.arguments(CustomerExportQuery, location="query")
    @blp.response(200, {"type": "string"}, **_documented(CUSTOMER_COLUMNS))
    def get(self, args):
        """Every customer the list shows (same filters), or a saved segment's members, as CSV"""
        export = crm().export_queries.customers(
            scope(), args["restaurant_id"], args["search"], args["segment"], crm().clock()
        )
        if export is None:
            abort(404, message="Segment not found.")
        return csv_file(export, "customers.csv", args["bom"])


@blp.route("/campaigns/<uuid:campaign_id>/events/export.csv")
class CampaignOutreachExport(MethodView):
    @blp.arguments(OutreachExportQuery, location="query")
    @blp.response(200, {"type": "string"}, **_documented(OUTREACH_COLUMNS))
    def get(self, args, campaign_id: UUID):
        """The campaign's outreach records, one per recipient, as CSV; filter by status"""
        export = crm().export_queries.campaign_outreach(campaign_id, scope(), args["status"])
        if export is None:
            abort(404, message="Campaign not found.")
        return csv_file(export, f"campaign-{campaign_id}-events.csv", args["bom"])
