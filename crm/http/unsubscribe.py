"""/u/<token>: the unsubscribe link every message carries (RFC 8058 one-click, and a page).

Mail providers POST `List-Unsubscribe=One-Click` to the link blind: no cookie, no login, no
CSRF token; the signed token is the authority. A person who opens the link gets a page naming
the restaurant, with a button that posts the same form. A token that is not genuine (altered,
forged, or naming a customer no longer there) gets a 404 page and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from crm.http.context import crm
from crm.http.dashboard.base import security_headers
from crm.http.responses import caught_up
from crm.write_model.errors import CustomerNotFound
from crm.write_model.vocabulary import ConsentSource, EmailConsent

bp = Blueprint("unsubscribe", __name__, url_prefix="/u")
bp.csrf_exempt = True  # see the module docstring
bp.after_request(security_headers)
LINK_ACTOR = "unsubscribe-link"  # the actor recorded on changes made through a link


def _customer_of(token: str) -> dict | None:
    ids = crm().unsubscribe_links.read(token)
    return None if ids is None else crm().queries.customer(ids[0], None)


def _not_found():
    return render_template("unsubscribe/not_found.html"), 404


@bp.get("/<token>")
def page(token: str):
    """The page a person reaches from the link: which restaurant, and a button to unsubscribe."""
    customer = _customer_of(token)
    if customer is None:
        return _not_found()
    unsubscribed = customer["email_consent"] == EmailConsent.UNSUBSCRIBED
    return render_template("unsubscribe/page.html", customer=customer, token=token, unsubscribed=unsubscribed)


@bp.post("/<token>")
def unsubscribe(token: str):
    """One-click unsubscribe (the body `List-Unsubscribe=One-Click`); repeats are harmless."""
    ids = crm().unsubscribe_links.read(token)
    if ids is None:
        return _not_found()
    if request.form.get("List-Unsubscribe") != "One-Click":
        return render_template("unsubscribe/bad_request.html"), 400
    source = ConsentSource.UNSUBSCRIBE_PAGE if request.form.get("via") == "page" else ConsentSource.ONE_CLICK
    customer_id, campaign_id = ids
    try:
        recorded = crm().application.unsubscribe_customer(
            customer_id, source=source, actor=LINK_ACTOR, scope=None, campaign_id=campaign_id
        )
    except CustomerNotFound:
        return _not_found()
    caught_up(recorded)  # the next campaign's audience is read from the read model
    customer = crm().queries.customer(customer_id, None)
    return render_template("unsubscribe/done.html", customer=customer)
