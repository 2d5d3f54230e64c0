"""/api/segments/: saved segments (named rules), their members, and counts of unsaved rules."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.context import actor, crm, idempotent_id, restaurant_of, scope
from crm.http.pagination import envelope
from crm.http.responses import done, written
from crm.http.schemas import CustomerSchema, page_of
from crm.http.segment_schemas import (
    SegmentCountResultSchema,
    SegmentCountSchema,
    SegmentCreateSchema,
    SegmentListQuery,
    SegmentMembersQuery,
    SegmentPatchSchema,
    SegmentSchema,
    SegmentUpdateSchema,
)

blp = Blueprint("segments", __name__, url_prefix="/api/segments", description="Saved segments: audiences as rules")


def _segment_or_404(segment_id: UUID) -> dict:
    return crm().saved_segment_queries.segment(segment_id, scope()) or abort(404, message="Segment not found.")


@blp.route("/")
class Segments(MethodView):
    @blp.arguments(SegmentListQuery, location="query")
    @blp.response(200, page_of(SegmentSchema))
    def get(self, args):
        """List saved segments, newest first; filter by restaurant_id"""
        return envelope(
            crm().saved_segment_queries.segments(scope(), args["restaurant_id"], args["page"], args["page_size"])
        )

    @blp.arguments(SegmentCreateSchema)
    @blp.response(201, SegmentSchema)
    def post(self, body):
        """Save a rule under a name (honours Idempotency-Key)"""
        recorded = crm().application.create_segment(
            restaurant_of(body),
            body["name"],
            body["rule"],
            actor=actor(),
            scope=scope(),
            segment_id=idempotent_id("segment"),
        )
        return written(recorded, lambda id: crm().saved_segment_queries.segment(id, scope()))


@blp.route("/<uuid:segment_id>/")
class SegmentDetail(MethodView):
    @blp.response(200, SegmentSchema)
    def get(self, segment_id: UUID):
        """Read a saved segment"""
        return _segment_or_404(segment_id)

    @blp.arguments(SegmentUpdateSchema)
    @blp.response(200, SegmentSchema)
    def put(self, body, segment_id: UUID):
        """Replace a segment's name and rule"""
        return self._change(body, segment_id)

    @blp.arguments(SegmentPatchSchema)
    @blp.response(200, SegmentSchema)
    def patch(self, body, segment_id: UUID):
        """Change a segment's name or rule"""
        return self._change(body, segment_id)

    @blp.response(204)
    def delete(self, segment_id: UUID):
        """Delete a saved segment (campaigns already started keep their audience)"""
        return done(crm().application.delete_segment(segment_id, actor=actor(), scope=scope()))

    @staticmethod
    def _change(body: dict, segment_id: UUID):
        recorded = crm().application.update_segment(segment_id, actor=actor(), scope=scope(), **body)
        return written(recorded, lambda id: crm().saved_segment_queries.segment(id, scope()), 200)


@blp.route("/<uuid:segment_id>/customers/")
class SegmentMembers(MethodView):
    @blp.arguments(SegmentMembersQuery, location="query")
    @blp.response(200, page_of(CustomerSchema))
    def get(self, args, segment_id: UUID):
        """The customers who match the segment's rule now"""
        page = crm().saved_segment_queries.members(
            segment_id, scope(), crm().clock(), args["page"], args["page_size"], args["after"]
        )
        return envelope(page) if page is not None else abort(404, message="Segment not found.")


@blp.route("/count/")
class SegmentCount(MethodView):
    @blp.arguments(SegmentCountSchema)
    @blp.response(200, SegmentCountResultSchema)
    def post(self, body):
        """Count the customers an unsaved rule matches now, with up to 5 of them"""
        return crm().saved_segment_queries.count(restaurant_of(body), scope(), body["rule"], crm().clock())
