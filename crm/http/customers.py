"""/api/customers/: customers, their visits, segments and event history."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.context import actor, crm, idempotent_id, scope
from crm.http.pagination import envelope
from crm.http.responses import done, written
from crm.http.schemas import (
    AddVisitSchema,
    CustomerCreateSchema,
    CustomerListQuery,
    CustomerPatchSchema,
    CustomerQuery,
    CustomerSchema,
    CustomerUpdateSchema,
    HighSpendersQuery,
    HistorySchema,
    InactiveQuery,
    VisitSchema,
    page_of,
)
from crm.write_model.errors import InvalidInput

blp = Blueprint("customers", __name__, url_prefix="/api/customers", description="Customers, visits and segments")


@blp.route("/")
class Customers(MethodView):
    @blp.arguments(CustomerListQuery, location="query")
    @blp.response(200, page_of(CustomerSchema))
    def get(self, args):
        """List customers, newest first; filter by restaurant_id, search email or name"""
        return envelope(
            crm().queries.customers(
                scope(), args["restaurant_id"], args["search"], args["page"], args["page_size"], args["after"]
            )
        )

    @blp.arguments(CustomerCreateSchema)
    @blp.response(201, CustomerSchema)
    def post(self, body):
        """Register a customer (honours Idempotency-Key)"""
        restaurant_id = body["restaurant"] or scope()
        if restaurant_id is None:
            raise InvalidInput("restaurant", "Missing data for required field.")
        recorded = crm().application.register_customer(
            restaurant_id,
            body["email"],
            body["first_name"],
            body["last_name"],
            actor=actor(),
            scope=scope(),
            customer_id=idempotent_id("customer"),
        )
        return written(recorded, lambda id: crm().queries.customer(id, scope()))


@blp.route("/<uuid:customer_id>/")
class CustomerDetail(MethodView):
    @blp.arguments(CustomerQuery, location="query")
    @blp.response(200, CustomerSchema)
    def get(self, args, customer_id: UUID):
        """Read a customer; with ?as_of=ISO-8601, as they were then (rebuilt from events)"""
        if args["as_of"] is not None:
            return crm().application.customer_as_of(customer_id, args["as_of"], scope=scope())
        return crm().queries.customer(customer_id, scope()) or abort(404, message="Customer not found.")

    @blp.arguments(CustomerUpdateSchema)
    @blp.response(200, CustomerSchema)
    def put(self, body, customer_id: UUID):
        """Replace a customer's email and names"""
        return self._change(body, customer_id)

    @blp.arguments(CustomerPatchSchema)
    @blp.response(200, CustomerSchema)
    def patch(self, body, customer_id: UUID):
        """Change some of a customer's fields"""
        return self._change(body, customer_id)

    @blp.response(204)
    def delete(self, customer_id: UUID):
        """Delete a customer: out of lists and segments, email free again, history kept"""
        return done(crm().application.delete_customer(customer_id, actor=actor(), scope=scope()))

    @staticmethod
    def _change(body: dict, customer_id: UUID):
        recorded = crm().application.update_customer(customer_id, actor=actor(), scope=scope(), **body)
        return written(recorded, lambda id: crm().queries.customer(id, scope()), 200)


@blp.route("/<uuid:customer_id>/add_visit/")
class AddVisit(MethodView):
    @blp.arguments(AddVisitSchema)
    @blp.response(201, VisitSchema)
    def post(self, body, customer_id: UUID):
        """Record a visit of this customer (honours Idempotency-Key)"""
        recorded = crm().application.record_visit(
            customer_id,
            body["spend_cents"],
            body["visited_at"],
            actor=actor(),
            scope=scope(),
            visit_id=idempotent_id(f"visit:{customer_id}"),
        )
        return written(recorded, lambda id: crm().queries.visit(id, scope()))


@blp.route("/<uuid:customer_id>/history/")
class CustomerHistory(MethodView):
    @blp.response(200, HistorySchema)
    def get(self, customer_id: UUID):
        """Every event of this customer, in order, replayed from the log"""
        return {"customer": customer_id, "events": crm().application.customer_history(customer_id, scope=scope())}


@blp.route("/inactive/")
class InactiveCustomers(MethodView):
    @blp.arguments(InactiveQuery, location="query")
    @blp.response(200, page_of(CustomerSchema))
    def get(self, args):
        """Customers with no activity for more than `days` x 24 h, longest inactive first"""
        return envelope(
            crm().queries.inactive_customers(
                scope(),
                args["restaurant_id"],
                args["days"],
                crm().clock(),
                args["page"],
                args["page_size"],
                args["after"],
            )
        )


@blp.route("/high_spenders/")
class HighSpenders(MethodView):
    @blp.arguments(HighSpendersQuery, location="query")
    @blp.response(200, page_of(CustomerSchema))
    def get(self, args):
        """Customers whose total spend is at least `min_spend_cents`, highest first"""
        return envelope(
            crm().queries.high_spenders(
                scope(), args["restaurant_id"], args["min_spend_cents"], args["page"], args["page_size"], args["after"]
            )
        )
