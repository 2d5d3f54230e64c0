"""The operator dashboard at /internal/: server-rendered pages behind a login, CSRF on every form.

Bootstrap 5 is served from the installed package (Bootstrap-Flask, BOOTSTRAP_SERVE_LOCAL), so
the dashboard works offline.
"""

from __future__ import annotations

from flask import Flask
from flask_bootstrap import Bootstrap5
from flask_wtf.csrf import CSRFProtect

from crm.http.dashboard import (  # noqa: F401  (their routes join the blueprint)
    auth,
    campaigns,
    customers,
    home,
    imports,
    recurring,
    scheduling,
    segments,
)
from crm.http.dashboard.base import Dashboard, bp
from crm.http.dashboard.sessions import DashboardSessions

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Register the dashboard; call it after the API's blueprints are registered.

    CSRFProtect guards every POST of the app by default, except:
    - the API's blueprints (url_prefix /api): they authenticate with bearer keys, not cookies;
    - blueprints marked `csrf_exempt` (the unsubscribe link: mail providers post to it blind);
    - the dashboard's own blueprint, which runs the same check itself, after its login check,
      so that a visitor without a session is sent to the login page first.
    """
    container = app.extensions["crm"]
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a token lives as long as the login session
    app.extensions["crm_dashboard"] = Dashboard(queries=container.dashboard_queries, operators=container.operators)
    app.session_interface = DashboardSessions()
    csrf = CSRFProtect(app)
    for blueprint in list(app.blueprints.values()):
        if (blueprint.url_prefix or "").startswith("/api") or getattr(blueprint, "csrf_exempt", False):
            csrf.exempt(blueprint)
    csrf.exempt(bp)
    Bootstrap5(app)
    app.register_blueprint(bp)
