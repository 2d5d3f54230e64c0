"""/api/restaurants/: open, list, read, change and delete restaurants."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.context import actor, crm, idempotent_id, require_admin, scope
from crm.http.pagination import envelope
from crm.http.responses import done, written
from crm.http.schemas import (
    PageQuery,
    RestaurantCreateSchema,
    RestaurantPatchSchema,
    RestaurantSchema,
    RestaurantUpdateSchema,
    page_of,
)

blp = Blueprint("restaurants", __name__, url_prefix="/api/restaurants", description="Restaurants (tenants)")


@blp.route("/")
class Restaurants(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, page_of(RestaurantSchema))
    def get(self, args):
        """List restaurants, newest first"""
        return envelope(crm().queries.restaurants(scope(), args["page"], args["page_size"]))

    @blp.arguments(RestaurantCreateSchema)
    @blp.response(201, RestaurantSchema)
    def post(self, body):
        """Open a restaurant (admin key; honours Idempotency-Key)"""
        require_admin()
        recorded = crm().application.open_restaurant(
            body["name"],
            body["timezone"],
            actor=actor(),
            restaurant_id=idempotent_id("restaurant"),
            frequency_cap=(body["frequency_cap_messages"], body["frequency_cap_days"]),
            quiet_hours=(body["quiet_hours_start"], body["quiet_hours_end"]),
        )
        return written(recorded, lambda id: crm().queries.restaurant(id, None))


@blp.route("/<uuid:restaurant_id>/")
class RestaurantDetail(MethodView):
    @blp.response(200, RestaurantSchema)
    def get(self, restaurant_id: UUID):
        """Read a restaurant"""
        return crm().queries.restaurant(restaurant_id, scope()) or abort(404, message="Restaurant not found.")

    @blp.arguments(RestaurantUpdateSchema)
    @blp.response(200, RestaurantSchema)
    def put(self, body, restaurant_id: UUID):
        """Replace a restaurant's name and time zone"""
        return self._change(body, restaurant_id)

    @blp.arguments(RestaurantPatchSchema)
    @blp.response(200, RestaurantSchema)
    def patch(self, body, restaurant_id: UUID):
        """Change some of a restaurant's fields"""
        return self._change(body, restaurant_id)

    @blp.response(204)
    def delete(self, restaurant_id: UUID):
        """Delete a restaurant that has no customers (admin key)"""
        require_admin(restaurant_id)
        return done(crm().application.delete_restaurant(restaurant_id, actor=actor(), scope=scope()))

    @staticmethod
    def _change(body: dict, restaurant_id: UUID):
        recorded = crm().application.update_restaurant(restaurant_id, actor=actor(), scope=scope(), **body)
        return written(recorded, lambda id: crm().queries.restaurant(id, scope()), 200)
