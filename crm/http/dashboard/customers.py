"""Customer pages: search within a restaurant, one customer's visits and full history, and the
changes of consent and erasure an operator makes there."""

from __future__ import annotations

from uuid import UUID

from flask import abort, flash, redirect, render_template, request, url_for

from crm.http.context import crm
from crm.http.dashboard.base import actor, bp, dashboard, page_number
from crm.http.responses import caught_up
from crm.write_model.errors import CustomerNotFound
from crm.write_model.vocabulary import ConsentSource

ERASE_CONFIRMATION = "ERASE"  # typed by the operator: erasure cannot be undone

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


@bp.route("/customers/<uuid:customer_id>/<any(unsubscribe, resubscribe):change>/", methods=["POST"])
def change_consent(customer_id: UUID, change: str):
    """Unsubscribe the customer from marketing email, or subscribe them again."""
    command = (
        crm().application.unsubscribe_customer if change == "unsubscribe" else crm().application.resubscribe_customer
    )
    try:
        caught_up(command(customer_id, source=ConsentSource.DASHBOARD, actor=actor(), scope=None))
    except CustomerNotFound:
        abort(404, "No such customer.")
    flash(
        "Unsubscribed from marketing email." if change == "unsubscribe" else "Subscribed to marketing email again.",
        "success",
    )
    return redirect(url_for("dashboard.customer", customer_id=customer_id))


@bp.route("/customers/<uuid:customer_id>/erase/", methods=["POST"])
def erase(customer_id: UUID):
    """Erase the customer's personal data for good, once the operator typed the confirmation."""
    if request.form.get("confirm", "").strip() != ERASE_CONFIRMATION:
        flash(f"Not erased: type {ERASE_CONFIRMATION} to confirm.", "warning")
        return redirect(url_for("dashboard.customer", customer_id=customer_id))
    try:
        caught_up(crm().application.erase_customer(customer_id, actor=actor(), scope=None))
    except CustomerNotFound:
        abort(404, "No such customer.")
    flash("The customer's personal data was erased.", "success")
    return redirect(url_for("dashboard.customers"))
