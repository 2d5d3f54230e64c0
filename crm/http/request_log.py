"""Every request gets an id (`X-Request-ID`: the caller's, if it is a plain token, else a new
one), returned on its answer and carried by every log record made while it is served, with the
actor once known; and one log line when it is answered: method, route, status, duration."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from crm import logs, metrics

log = logging.getLogger("crm.http.requests")
HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _VALID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    logs.set_context(request_id=g.request_id, actor=None, campaign_id=None)


def _answer(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # a failure before _begin ran
        return response
    response.headers[HEADER] = request_id
    seconds = time.perf_counter() - g.request_started
    route = request.url_rule.rule if request.url_rule is not None else None  # ids stay out
    metrics.observe_request(request.method, route, response.status_code, seconds)
    log.info(
        "request",
        extra={
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2),
        },
    )
    return response


def _end(_error=None) -> None:
    logs.set_context(request_id=None, actor=None, campaign_id=None)


def init_app(app: Flask) -> None:
    """Register first: the id must exist before authentication and everything else runs."""
    logs.install()
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_answer)
    app.teardown_request(_end)
