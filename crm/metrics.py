"""Prometheus metrics: what each process measures as it works, and what the database says at scrape.

Measured (instruments created once per process, on first use): requests by method, route and
status with latency, commands by name and outcome with latency, optimistic-concurrency retries.
Under gunicorn every worker process writes them to `PROMETHEUS_MULTIPROC_DIR` (set by
`crm serve`), and a scrape of any of them adds them all up.

Read at scrape time (so any process answers for the whole system): each projection's position,
events behind and lag, outreach records by status, campaigns by status, and the broker's queue
depth.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from types import SimpleNamespace

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_first_use = threading.Lock()


def instruments() -> SimpleNamespace:
    """This process's instruments. A server's first requests come on several threads at once:
    made by two of them, the same metric would be registered twice (and the request fail)."""
    with _first_use:
        return _made_once()


@cache
def _made_once() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        requests=Histogram(
            "crm_http_request_duration_seconds",
            "HTTP requests by method, route and status, and how long they took.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
        ),
        commands=Histogram(
            "crm_command_duration_seconds",
            "Commands by name and outcome (ok or error), and how long they took, retries included.",
            ["command", "outcome"],
            buckets=_LATENCY_BUCKETS,
        ),
        retries=Counter(
            "crm_command_conflict_retries_total",
            "Commands run again after losing an optimistic-concurrency race.",
            ["command"],
        ),
    )


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    instruments().requests.labels(method, route or "unmatched", str(status)).observe(seconds)


def observe_command(name: str, seconds: float, retries: int, succeeded: bool) -> None:
    measured = instruments()
    measured.commands.labels(name, "ok" if succeeded else "error").observe(seconds)
    if retries:
        measured.retries.labels(name).inc(retries)


def exposition(state_collector) -> bytes:
    """The text a scrape gets: this process's (or every gunicorn worker's) instruments, and the
    system's state read now by `state_collector`."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    instruments()  # present (at zero) before the first request or command
    if os.environ.get(MULTIPROCESS_DIR):
        measured = CollectorRegistry()
        MultiProcessCollector(measured)
    else:
        measured = REGISTRY
    state = CollectorRegistry()
    state.register(state_collector)
    return generate_latest(measured) + generate_latest(state)


def mark_process_dead(pid: int) -> None:
    """A gunicorn worker exited: its live gauges no longer count (its counters still do)."""
    if os.environ.get(MULTIPROCESS_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
