"""Customer pages: search within a restaurant, and one customer's visits and full history."""

from __future__ import annotations

from uuid import UUID

from flask import abort, render_template, request

from crm.http.context import crm
from crm.http.dashboard.base import bp, dashboard, page_number
from crm.write_model.errors import CustomerNotFound

CUSTOMERS_PER_PAGE = 25
VISITS_PER_PAGE = 20
MAX_SEARCH_LENGTH = 200


@bp.route("/customers/")
def customers():
    """Customers of one restaurant whose email or name contains the search text."""
    try:
        restaurant_id = UUID(request.args.get("restaurant", ""))
    except ValueError:
        restaurant_id = None
    text = request.args.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    found = dashboard().queries.customer_search(restaurant_id, text, page_number(), CUSTOMERS_PER_PAGE)
    return render_template("dashboard/customers.html", **found, q=text)


@bp.route("/customers/<uuid:customer_id>/")
def customer(customer_id: UUID):
    """The customer's totals and visits (read model) and every event of theirs (replayed from the log)."""
    shown = dashboard().queries.customer_page(customer_id, page_number(), VISITS_PER_PAGE)
    if shown is None:
        abort(404, "No such customer.")
    try:
        history = crm().application.customer_history(customer_id, scope=None)
    except CustomerNotFound:
        abort(404, "No such customer.")
    return render_template("dashboard/customer.html", **shown, history=history)
