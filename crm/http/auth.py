"""Bearer API keys on every `/api/` route except the documentation."""

from __future__ import annotations

from flask import Flask, g, request
from flask_smorest import abort

from crm import logs
from crm.http.context import crm

PUBLIC_PREFIXES = ("/api/openapi.json", "/api/docs")


def _authenticate() -> None:
    if not request.path.startswith("/api/") or request.path.startswith(PUBLIC_PREFIXES):
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    principal = crm().api_keys.authenticate(key.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        abort(
            401,
            message="A valid API key is required: 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="crm"'},
        )
    g.principal = principal
    logs.set_context(actor=principal.name)


def init_app(app: Flask) -> None:
    app.before_request(_authenticate)
