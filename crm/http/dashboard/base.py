"""The dashboard's blueprint and what every page shares: the login check, CSRF, headers, errors."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from crm import logs
from crm.adapters.operators import Operator, Operators
from crm.read_model.dashboard_queries import DashboardQueries, last_page

bp = Blueprint("dashboard", __name__, url_prefix="/internal", static_folder="static")

PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.static"}
MAX_NEXT_LENGTH = 2000
SIGNED_OUT = "Signed out: {what}, nothing was changed. Log in, then try again."
SECURITY_HEADERS = {
    # Controls are one click away: never inside another site's frame.
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show personal data
}


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard adds to the process's container."""

    queries: DashboardQueries
    operators: Operators


def dashboard() -> Dashboard:
    return current_app.extensions["crm_dashboard"]


def operator() -> Operator:
    return g.operator


def actor() -> str:
    """The actor recorded on the events of the operator's commands: `operator:<email>`."""
    return g.operator.actor


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path of the dashboard on this site, else None: never another site's
    address, absolute or protocol-relative (`//host`), nor one a browser would read as such
    (a backslash, or a tab or newline it drops)."""
    if not target or len(target) > MAX_NEXT_LENGTH or not target.isprintable() or " " in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/internal/") or "\\" in target:
        return None
    return target


def came_from() -> str | None:
    """Where a POST was sent from (the page whose form it is), as a safe `next`."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.scheme not in ("http", "https"):
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def log_in(found: Operator) -> None:
    session.clear()  # a fresh session: nothing from before the login survives it
    session["operator"] = found.email
    session["password_stamp"] = found.password_stamp
    session.permanent = True


def log_out() -> None:
    session.clear()


@bp.before_request
def _require_operator():
    email = session.get("operator")
    g.operator = dashboard().operators.get(email) if email else None
    if g.operator is not None and not hmac.compare_digest(session.get("password_stamp", ""), g.operator.password_stamp):
        g.operator = None  # the password changed since this session logged in: it has ended
    if g.operator is not None:
        logs.set_context(actor="operator")  # (its email is personal: the events record which one)
    if g.operator is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.endswith(".json"):
            return jsonify({"message": "Log in to the dashboard first."}), 401
        if request.method == "GET":
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        # A form posted after the session ended (a logout elsewhere, its lifetime): say it did
        # nothing, and come back to the page it was posted from.
        action = (request.view_args or {}).get("action")
        what = f"{action.capitalize()} did not run" if action else "the form was not sent"
        flash(SIGNED_OUT.format(what=what), "warning")
        return redirect(url_for("dashboard.login", next=came_from()))
    # After the login check, so that a visitor without a session is sent to the login page.
    current_app.extensions["csrf"].protect()
    return None


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown: str):
    """Any other path under /internal/ (a malformed id included) gets the dashboard's 404 page;
    a page that takes the other method only, a 405."""
    other = "POST" if request.method == "GET" else "GET"
    try:
        rule, _ = current_app.create_url_adapter(request).match(request.path, method=other, return_rule=True)
    except HTTPException:
        rule = None
    if rule is not None and rule.endpoint != request.endpoint:
        abort(405, valid_methods=list(rule.methods or ()))
    abort(404, "There is no such page in the dashboard.")


HSTS = "max-age=31536000; includeSubDomains"  # when served over HTTPS only (SESSION_COOKIE_SECURE)


def security_headers(response):
    """The headers of every page a browser shows (the dashboard's, the unsubscribe pages)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


bp.after_request(security_headers)


@bp.context_processor
def _operator() -> dict:
    return {"operator": g.get("operator")}


bp.add_app_template_global(last_page)


@bp.app_template_global()
def page_url(number: int, param: str = "page") -> str:
    """This page's URL with `param` set to `number`, keeping the other query parameters."""
    args = {key: value for key, value in request.args.items() if key != param}
    return url_for(request.endpoint, **(request.view_args or {}), **args, **{param: number})


def page_number(param: str = "page") -> int:
    value = request.args.get(param, "1")
    return max(1, int(value)) if value.isdigit() and len(value) < 10 else 1


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    message = "This form has expired or lacks its security token. Go back, reload the page and try again."
    if request.path.endswith(".json"):
        return jsonify({"message": message}), 400
    return render_template("dashboard/error.html", title="Bad request", message=message), 400


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if request.path.endswith(".json"):
        return jsonify({"message": error.description}), error.code
    allow = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else {}
    return render_template("dashboard/error.html", title=error.name, message=error.description), error.code, allow
