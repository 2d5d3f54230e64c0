"""/api/visits/: record, list, correct and void visits."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.context import actor, crm, idempotent_id, scope
from crm.http.pagination import envelope
from crm.http.responses import done, written
from crm.http.schemas import (
    VisitCreateSchema,
    VisitListQuery,
    VisitPatchSchema,
    VisitSchema,
    VisitUpdateSchema,
    page_of,
)
from crm.write_model.errors import CustomerNotFound, InvalidInput

blp = Blueprint("visits", __name__, url_prefix="/api/visits", description="Visits and their spend")


@blp.route("/")
class Visits(MethodView):
    @blp.arguments(VisitListQuery, location="query")
    @blp.response(200, page_of(VisitSchema))
    def get(self, args):
        """List visits, most recent first; filter by customer_id"""
        return envelope(crm().queries.visits(scope(), args["customer_id"], args["page"], args["page_size"]))

    @blp.arguments(VisitCreateSchema)
    @blp.response(201, VisitSchema)
    def post(self, body):
        """Record a visit (honours Idempotency-Key)"""
        customer_id = body["customer"]
        try:
            recorded = crm().application.record_visit(
                customer_id,
                body["spend_cents"],
                body["visited_at"],
                actor=actor(),
                scope=scope(),
                visit_id=idempotent_id(f"visit:{customer_id}"),
            )
        except CustomerNotFound:
            raise InvalidInput("customer", "no such customer") from None
        return written(recorded, lambda id: crm().queries.visit(id, scope()))


@blp.route("/<uuid:visit_id>/")
class VisitDetail(MethodView):
    @blp.response(200, VisitSchema)
    def get(self, visit_id: UUID):
        """Read a visit"""
        return crm().queries.visit(visit_id, scope()) or abort(404, message="Visit not found.")

    @blp.arguments(VisitUpdateSchema)
    @blp.response(200, VisitSchema)
    def put(self, body, visit_id: UUID):
        """Correct a visit's spend (and time)"""
        return self._correct(body, visit_id)

    @blp.arguments(VisitPatchSchema)
    @blp.response(200, VisitSchema)
    def patch(self, body, visit_id: UUID):
        """Correct some of a visit's fields"""
        return self._correct(body, visit_id)

    @blp.response(204)
    def delete(self, visit_id: UUID):
        """Void a visit: it no longer counts in the customer's totals"""
        return done(crm().application.void_visit(visit_id, actor=actor(), scope=scope()))

    @staticmethod
    def _correct(body: dict, visit_id: UUID):
        recorded = crm().application.correct_visit(visit_id, actor=actor(), scope=scope(), **body)
        return written(recorded, lambda id: crm().queries.visit(id, scope()), 200)
