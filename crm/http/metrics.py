"""/metrics: Prometheus text, for the monitoring system.

Open without a key to the networks in `METRICS_ALLOW_NETWORKS` (default: this host); from
anywhere else it needs an admin API key. Nothing personal: ids do not even appear (routes are
rules, campaigns are counted by status).
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, Response, jsonify, request

from crm.adapters import broker
from crm.http.context import crm
from crm.metrics import exposition
from crm.projectors.engine import projection_lag

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _allowed() -> bool:
    settings = crm().settings
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        address = None
    if address is not None and any(address in network for network in settings.metrics_allow_networks):
        return True
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    principal = crm().api_keys.authenticate(key.strip()) if scheme.lower() == "bearer" else None
    return principal is not None and principal.is_admin


@bp.get("/metrics")
def metrics():
    """Prometheus metrics (from an allowed network, or with an admin key)."""
    if not _allowed():
        return jsonify({"message": "Metrics need an admin API key from outside METRICS_ALLOW_NETWORKS."}), 401
    return Response(exposition(StateCollector(crm())), content_type=CONTENT_TYPE)


class StateCollector:
    """The system's state, read when scraped."""

    def __init__(self, container):
        self.container = container

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        container = self.container
        try:
            lag = projection_lag(container.runner, container.clock())
            outreach_by_status, by_status = container.campaign_queries.status_counts()
        except Exception as error:  # a scrape while the database is away still answers
            log.warning("metrics: database unreadable: %s", type(error).__name__)
            up = GaugeMetricFamily("crm_database_up", "1 if the database answered this scrape.")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("crm_database_up", "1 if the database answered this scrape.")
        up.add_metric([], 1)
        yield up
        families = {
            "position": GaugeMetricFamily(
                "crm_projection_position", "The last event each projection applied.", labels=["projection"]
            ),
            "behind": GaugeMetricFamily(
                "crm_projection_events_behind",
                "Events of its kinds a projection has yet to apply.",
                labels=["projection"],
            ),
            "lag_seconds": GaugeMetricFamily(
                "crm_projection_lag_seconds", "How long the oldest of those events has waited.", labels=["projection"]
            ),
        }
        for name, row in lag.items():
            for field, family in families.items():
                family.add_metric([name], row[field])
        yield from families.values()
        outreach = GaugeMetricFamily("crm_outreach_records", "Outreach records by status.", labels=["status"])
        for status, total in outreach_by_status.items():
            outreach.add_metric([status], total)
        yield outreach
        counted = GaugeMetricFamily("crm_campaigns", "Campaigns by status.", labels=["status"])
        for status, count in sorted(by_status.items()):
            counted.add_metric([status], count)
        yield counted
        if container.settings.broker_url:
            yield _queue_depth(container.settings.broker_url)


def _queue_depth(url: str):
    from prometheus_client.core import GaugeMetricFamily

    depth = GaugeMetricFamily(
        "crm_broker_queue_depth", "Task messages waiting in the broker's queue.", labels=["queue"]
    )
    try:
        depth.add_metric([broker.TASK_QUEUE], broker.queue_depth(url))
    except Exception as error:
        log.warning("metrics: broker unreadable: %s", type(error).__name__)
    return depth
