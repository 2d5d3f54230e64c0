"""Projection lag under load: from an event's commit to its projection's commit (PostgreSQL).

Run it beside `crm projector` and a workload (for example `workload.py visits -c 8`):

    DATABASE_URL=postgresql+psycopg2://root@127.0.0.1/crm_bench python bench/projection_lag.py \\
        --projection customers --duration 30

It LISTENs on `crm_events` (every insert notifies at commit) and `crm_projected` (every
projection batch notifies `name:position` at commit). At each event notification it reads the
new notification ids and their topics; an event counts from that moment until a `crm_projected`
notification of the projection that handles its topic reaches its id. The start is taken when
the notification arrives, a little after the commit, so figures slightly understate the lag.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import time

import psycopg2
import psycopg2.extensions
from sqlalchemy import create_engine

from crm.bootstrap import build
from crm.config import Settings
from crm.projectors.engine.listener import connect_args


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projection", default="customers")
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()

    settings = Settings.from_env()
    topics = build(settings).runner.projectors[args.projection].topics
    conn = psycopg2.connect(**connect_args(create_engine(os.environ["DATABASE_URL"])))
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    cursor = conn.cursor()
    cursor.execute("LISTEN crm_events; LISTEN crm_projected")
    cursor.execute("SELECT coalesce(max(id), 0) FROM crm_events")
    seen_up_to = cursor.fetchone()[0]

    waiting: dict[int, float] = {}  # event id -> when its commit was seen
    lags: list[float] = []
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        if not select.select([conn], [], [], 0.5)[0]:
            continue
        conn.poll()
        now = time.monotonic()
        notes, conn.notifies[:] = list(conn.notifies), []
        if any(n.channel == "crm_events" for n in notes):
            cursor.execute("SELECT id, topic FROM crm_events WHERE id > %s ORDER BY id", (seen_up_to,))
            for event_id, topic in cursor.fetchall():
                seen_up_to = max(seen_up_to, event_id)
                if topic in topics:
                    waiting[event_id] = now
        for note in notes:
            if note.channel != "crm_projected":
                continue
            name, _, position = note.payload.rpartition(":")
            if name != args.projection:
                continue
            for event_id in [e for e in waiting if e <= int(position)]:
                lags.append(now - waiting.pop(event_id))

    if not lags:
        raise SystemExit("no events were projected while measuring: is a workload and `crm projector` running?")
    ordered = sorted(lags)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    result = {
        "projection": args.projection,
        "events": len(lags),
        "still_waiting": len(waiting),
        "p50_ms": round(pct(50), 1),
        "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(statistics.mean(lags) * 1000, 1),
    }
    print(f"RESULT {json.dumps(result)}")


if __name__ == "__main__":
    main()
