"""/api/customers/{id}/: consent to marketing email, erasure, and the export of what is held."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort

from crm.http.api import Blueprint
from crm.http.context import actor, crm, scope
from crm.http.responses import done, written
from crm.http.schemas import CustomerExportSchema, CustomerSchema
from crm.write_model.vocabulary import ConsentSource

blp = Blueprint(
    "consent", __name__, url_prefix="/api/customers", description="Consent to marketing email, erasure, export"
)


def _customer(customer_id: UUID) -> dict | None:
    return crm().queries.customer(customer_id, scope())


@blp.route("/<uuid:customer_id>/unsubscribe/")
class Unsubscribe(MethodView):
    @blp.response(200, CustomerSchema)
    def post(self, customer_id: UUID):
        """Unsubscribe a customer from marketing email (again: no change)"""
        recorded = crm().application.unsubscribe_customer(
            customer_id, source=ConsentSource.API, actor=actor(), scope=scope()
        )
        return written(recorded, _customer, 200)


@blp.route("/<uuid:customer_id>/resubscribe/")
class Resubscribe(MethodView):
    @blp.response(200, CustomerSchema)
    def post(self, customer_id: UUID):
        """Subscribe a customer to marketing email again (again: no change)"""
        recorded = crm().application.resubscribe_customer(
            customer_id, source=ConsentSource.API, actor=actor(), scope=scope()
        )
        return written(recorded, _customer, 200)


@blp.route("/<uuid:customer_id>/erase/")
class Erase(MethodView):
    @blp.response(204)
    def post(self, customer_id: UUID):
        """Erase a customer's personal data for good (crypto-shredding; again: no change)

        The customer's data key is destroyed and an event without personal data appended: the
        customer answers 404 from then on, their history shows "[erased]" for personal fields,
        their visits and outreach records stay without an address, and the address goes on the
        restaurant's suppression list (registered again, it starts unsubscribed)."""
        return done(crm().application.erase_customer(customer_id, actor=actor(), scope=scope()))


@blp.route("/<uuid:customer_id>/export/")
class Export(MethodView):
    @blp.response(200, CustomerExportSchema)
    def get(self, customer_id: UUID):
        """Everything held about a customer: profile, consent history, visits, outreach"""
        exported = crm().consent_queries.customer_export(customer_id, scope(), crm().clock())
        return exported or abort(404, message="Customer not found.")
