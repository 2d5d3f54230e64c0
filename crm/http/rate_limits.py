"""Rate limits (Flask-Limiter): shed a client that sends too much, before it costs anything more.

Each credential gets `RATE_LIMIT` (default 1000 per second): an API key (by a hash of what the
caller presents, valid or not), or, without one, the client's address. The one-click unsubscribe
link is limited per token (`RATE_LIMIT_UNSUBSCRIBE`, default 10 per minute). Counters live in
Redis when a broker is configured (shared by every web process), else in memory. Over a limit:
429, a JSON body and `Retry-After`. If Redis fails, requests are served (limits fall back to
memory) rather than refused. `RATE_LIMIT=off` turns the limits off.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, jsonify, request
from flask_limiter import Limiter, RequestLimit

from crm.config import Settings

EXEMPT_ENDPOINTS = frozenset(
    {"health.healthz", "health.readyz", "metrics.metrics", "static", "bootstrap.static", "dashboard.static"}
)


def credential() -> str:
    """Whom a request counts against: the API key presented, else the client's address."""
    authorization = request.headers.get("Authorization")
    if authorization:
        return "key:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


def unsubscribe_token() -> str:
    return "token:" + hashlib.sha256((request.view_args or {}).get("token", "").encode()).hexdigest()[:32]


def _too_many(limit: RequestLimit):
    retry_after = max(1, math.ceil(limit.window[0] - time.time()))  # when the window resets
    response = jsonify({"message": f"Too many requests: at most {limit.limit}. Retry in {retry_after} s."})
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def build_limiter(settings: Settings) -> Limiter:
    enabled = settings.rate_limit.lower() != "off"
    return Limiter(
        credential,
        # Application limits: one count per credential over every route (default limits would
        # give each route a count of its own, so a key could send RATE_LIMIT to each of them).
        application_limits=[settings.rate_limit] if enabled else [],
        application_limits_exempt_when=lambda: request.endpoint in EXEMPT_ENDPOINTS,
        storage_uri=settings.broker_url or "memory://",
        strategy="fixed-window",
        headers_enabled=False,  # Retry-After on a 429 only: no extra counter reads per request
        on_breach=_too_many,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        key_prefix="crm-limits",
        enabled=enabled,
    )


def init_app(app: Flask, settings: Settings) -> Limiter:
    """Register the limits; call before authentication, so that refused keys count too."""
    limiter = build_limiter(settings)
    limiter.init_app(app)
    app.extensions["crm_limiter"] = limiter
    return limiter
