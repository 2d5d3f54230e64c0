"""Rate limits (the `limits` library): shed a client that sends too much, before it costs anything more.

Each credential gets `RATE_LIMIT` (default 1000 per second) over every route together: an API
key (by a hash of what the caller presents, valid or not), or, without one, the client's
address. The one-click unsubscribe link is also limited per token (`RATE_LIMIT_UNSUBSCRIBE`,
default 10 per minute). Counters live in Redis when a broker is configured (shared by every web
process, taken a block of requests at a time: `crm.http.rate_leases`), else in memory. Over a
limit: 429, a JSON body and `Retry-After`. If Redis fails, or stops answering for a second,
requests are served (limits fall back to memory for a few seconds, then Redis is tried again)
rather than refused. `RATE_LIMIT=off` turns the limits off.

The check is one `before_request` over `limits` itself rather than Flask-Limiter: with one
application-wide limit, Flask-Limiter's per-request resolution of route, blueprint and default
limits cost as much CPU as the Redis round trip (7% of a write's web CPU; docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

import redis
from flask import Flask, jsonify, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from crm.config import Settings
from crm.http.rate_leases import SharedLeases

log = logging.getLogger(__name__)

EXEMPT_ENDPOINTS = frozenset(
    {"health.healthz", "health.readyz", "metrics.metrics", "static", "bootstrap.static", "dashboard.static"}
)
UNSUBSCRIBE_BLUEPRINT = "unsubscribe"
FALLBACK_SECONDS = 5.0  # how long limits stay in memory after Redis failed, before it is tried again
PREFIX = "crm-limits"


def credential() -> str:
    """Whom a request counts against: the API key presented, else the client's address."""
    authorization = request.headers.get("Authorization")
    if authorization:
        return "key:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]
    return "ip:" + (request.remote_addr or "unknown")


def unsubscribe_token() -> str:
    return "token:" + hashlib.sha256((request.view_args or {}).get("token", "").encode()).hexdigest()[:32]


class RateLimits:
    """The limits of one web process: counted in Redis (shared) or, without it, in memory."""

    def __init__(self, settings: Settings):
        self.limits = parse_many(settings.rate_limit)  # e.g. "10/second;1000/hour": each is counted
        self.unsubscribe_limits = parse_many(settings.rate_limit_unsubscribe)
        self.memory = FixedWindowRateLimiter(MemoryStorage())
        self.shared: SharedLeases | None = None
        if settings.broker_url:  # a Redis that stops answering costs a request 1 s, not a hang
            client = redis.Redis.from_url(settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
            self.shared = SharedLeases(client, PREFIX)
        self.shared_down_until = 0.0

    def check(self):
        """`before_request`: count the request against its credential; a 429 once over a limit."""
        if request.endpoint is None or request.endpoint in EXEMPT_ENDPOINTS:
            return None
        counted = [(limit, "all", credential()) for limit in self.limits]
        if request.blueprint == UNSUBSCRIBE_BLUEPRINT and request.method == "POST":
            counted += [(limit, "unsubscribe", unsubscribe_token()) for limit in self.unsubscribe_limits]
        for limit, scope, key in counted:
            retry_in = self._hit(limit, scope, key)
            if retry_in is not None:
                return _too_many(limit, retry_in)
        return None

    def _hit(self, limit: RateLimitItem, scope: str, key: str) -> float | None:
        """None if the request is allowed, else the seconds until the limit's window ends."""
        if self.shared is not None and time.monotonic() >= self.shared_down_until:
            try:
                return self.shared.hit(limit, scope, key)
            except redis.RedisError:
                log.warning("rate limit storage unreachable: counting in memory for %.0f s", FALLBACK_SECONDS)
                self.shared_down_until = time.monotonic() + FALLBACK_SECONDS
        if self.memory.hit(limit, PREFIX, scope, key):
            return None
        return self.memory.get_window_stats(limit, PREFIX, scope, key).reset_time - time.time()


def _too_many(limit: RateLimitItem, retry_in: float):
    retry_after = max(1, math.ceil(retry_in))  # when the window resets
    response = jsonify({"message": f"Too many requests: at most {limit}. Retry in {retry_after} s."})
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask, settings: Settings) -> None:
    """Register the limits; call before authentication, so that refused keys count too."""
    if settings.rate_limit.lower() == "off":
        return
    limits = RateLimits(settings)
    app.extensions["crm_rate_limits"] = limits
    app.before_request(limits.check)
