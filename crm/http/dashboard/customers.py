"""Customer pages: search across restaurants, one customer's timeline and event log, and the
changes of consent and erasure an operator makes there."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, render_template, request, url_for

from crm.http.context import crm
from crm.http.dashboard.base import actor, bp, page_number
from crm.http.responses import caught_up
from crm.read_model.dashboard_queries import last_page
from crm.read_model.pages import Page
from crm.write_model.errors import CustomerNotFound
from crm.write_model.vocabulary import ConsentSource

ERASE_CONFIRMATION = "ERASE"  # typed by the operator: erasure cannot be undone

CUSTOMERS_PER_PAGE = 25
TIMELINE_PER_PAGE = 20
EVENTS_PER_PAGE = 20
MAX_SEARCH_LENGTH = 200


@bp.app_template_filter("restaurant_time")
def restaurant_time(moment: datetime | str, zone: str | None) -> str:
    """A moment in a restaurant's time zone, in words: "26 Aug 2026, 19:00 Europe/Rome"."""
    if isinstance(moment, str):  # an event's ISO stamp
        moment = datetime.fromisoformat(moment)
    try:
        tz = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    local = moment.astimezone(tz)
    return f"{local.day} {local:%b %Y, %H:%M} {zone or 'UTC'}"


def newest_first(events: list[dict], page: int, page_size: int) -> Page:
    """A page of a customer's events (oldest first as the log holds them), newest first."""
    page = min(page, last_page(len(events), page_size))
    end = len(events) - (page - 1) * page_size
    return Page(count=len(events), items=events[max(0, end - page_size) : end][::-1], page=page, page_size=page_size)


@bp.route("/customers/")
def customers():
    """Customers whose email or name contains the search text, of all restaurants or one."""
    try:
        restaurant_id = UUID(request.args.get("restaurant", ""))
    except ValueError:
        restaurant_id = None
    text = request.args.get("q", "").strip()[:MAX_SEARCH_LENGTH]
    found = crm().customer_page_queries.customer_search(restaurant_id, text, page_number(), CUSTOMERS_PER_PAGE)
    return render_template("dashboard/customers.html", **found, q=text)


@bp.route("/customers/<uuid:customer_id>/")
def customer(customer_id: UUID):
    """The customer's totals and timeline (read model), and every event of theirs (replayed
    from the log) for audits."""
    shown = crm().customer_page_queries.customer_page(customer_id, page_number(), TIMELINE_PER_PAGE)
    if shown is None:
        abort(404, "No such customer.")
    try:
        history = crm().application.customer_history(customer_id, scope=None)
    except CustomerNotFound:
        abort(404, "No such customer.")
    events = newest_first(history, page_number("events"), EVENTS_PER_PAGE)
    return render_template("dashboard/customer.html", **shown, events=events, events_opened="events" in request.args)


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
