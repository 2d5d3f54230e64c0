"""The Flask application factory: REST API, OpenAPI document and interactive docs."""

from __future__ import annotations

from flask import Flask

from crm import __version__
from crm.bootstrap import Container, build
from crm.config import Settings
from crm.http import (
    auth,
    campaigns,
    connections,
    consent,
    customers,
    dashboard,
    docs,
    errors,
    exports,
    health,
    imports,
    metrics,
    rate_limits,
    request_log,
    restaurants,
    segment_rule_schema,
    segments,
    unsubscribe,
    visits,
)
from crm.http.api import Api
from crm.http.json_answers import JSONAnswers


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Build the web application; `container` lets tests and the CLI share their wiring."""
    settings = settings or (container.settings if container else Settings.from_env())
    container = container or build(settings)
    app = Flask(__name__)
    app.json = JSONAnswers(app)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        UPLOAD_MAX_CONTENT_LENGTH=settings.import_max_bytes,  # views marked takes_uploads (connections)
        SESSION_COOKIE_HTTPONLY=True,  # the dashboard's login session
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=12 * 3600,  # seconds
        API_TITLE="CRM Backend Service",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=docs.ASSETS_URL + "/",
        API_SPEC_OPTIONS={
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
                "schemas": segment_rule_schema.components(),  # the rule grammar, stated once
            },
        },
    )
    app.json.sort_keys = False
    app.url_map.strict_slashes = True
    app.extensions["crm"] = container
    api = Api(app)
    for blueprint in (
        restaurants.blp,
        customers.blp,
        consent.blp,
        visits.blp,
        campaigns.blp,
        campaigns.outreach_blp,
        segments.blp,
        exports.blp,
        imports.blp,
    ):
        api.register_blueprint(blueprint)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    docs.init_app(app)
    rate_limits.init_app(app, settings)  # before authentication: refused keys count too
    auth.init_app(app)
    request_log.init_app(app)
    errors.init_app(app)
    connections.init_app(app)
    dashboard.init_app(app)
    return app
