"""The dashboard's blueprint and what every page shares: the login check, CSRF, headers, errors."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from crm import logs
from crm.adapters.operators import Operator, Operators
from crm.read_model.dashboard_queries import DashboardQueries, last_page

bp = Blueprint("dashboard", __name__, url_prefix="/internal", static_folder="static")

PUBLIC_ENDPOINTS = {"dashboard.login", "dashboard.static"}
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
    """`target` if it is a dashboard path on this site (no open redirect), else None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/internal/") or "\\" in target:
        return None
    return target


def log_in(found: Operator) -> None:
    session.clear()  # a fresh session: nothing from before the login survives it
    session["operator"] = found.email
    session.permanent = True


def log_out() -> None:
    session.clear()


@bp.before_request
def _require_operator():
    email = session.get("operator")
    g.operator = dashboard().operators.get(email) if email else None
    if g.operator is not None:
        logs.set_context(actor="operator")  # (its email is personal: the events record which one)
    if g.operator is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.endswith(".json"):
            return jsonify({"message": "Log in to the dashboard first."}), 401
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("dashboard.login", next=target))
    # After the login check, so that a visitor without a session is sent to the login page.
    current_app.extensions["csrf"].protect()
    return None


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
    return render_template("dashboard/error.html", title=error.name, message=error.description), error.code
