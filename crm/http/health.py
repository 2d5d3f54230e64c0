"""/healthz and /readyz: how the process is doing, for load balancers and orchestrators.

Both answer JSON without authentication and say nothing personal. `/healthz` answers while the
process does. `/readyz` says whether it can serve: the database answers, the broker answers
(when one is configured), and no projection has left an event waiting longer than
`READY_MAX_LAG_SECONDS`; 503 with each check's result otherwise.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from crm.adapters import broker
from crm.adapters.availability import ping
from crm.http.context import crm
from crm.projectors.engine import projection_lag

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database, the broker and the projections, each checked; 503 if any fails."""
    container = crm()
    checks: dict[str, dict] = {"database": _database(container)}
    if container.settings.broker_url:
        checks["broker"] = _broker(container.settings.broker_url)
    if checks["database"]["ok"]:
        checks["projections"] = _projections(container)
    ready = all(check["ok"] for check in checks.values())
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503


def _database(container) -> dict:
    try:
        ping(container.engine)
    except Exception as error:
        log.warning("readyz: database unreachable: %s", type(error).__name__)
        return {"ok": False, "error": f"unreachable ({type(error).__name__})"}
    return {"ok": True}


def _broker(url: str) -> dict:
    try:
        broker.ping(url)
    except Exception as error:
        log.warning("readyz: broker unreachable: %s", type(error).__name__)
        return {"ok": False, "error": f"unreachable ({type(error).__name__})"}
    return {"ok": True}


def _projections(container) -> dict:
    limit = container.settings.ready_max_lag_seconds
    try:
        lag = projection_lag(container.runner, container.clock())
    except Exception as error:
        log.warning("readyz: projections unreadable: %s", type(error).__name__)
        return {"ok": False, "error": f"unreadable ({type(error).__name__})"}
    late = sorted(name for name, row in lag.items() if row["lag_seconds"] > limit)
    poisoned = sorted(name for name, row in lag.items() if row["dead_letters"])
    result: dict = {"ok": not late and not poisoned, "max_lag_seconds": limit, "projections": lag}
    problems = []
    if late:
        problems.append(f"behind by more than {limit:g} s: {', '.join(late)}")
    if poisoned:
        problems.append(f"events they cannot apply (crm projections status): {', '.join(poisoned)}")
    if problems:
        result["error"] = "; ".join(problems)
    return result
