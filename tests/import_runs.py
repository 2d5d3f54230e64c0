"""`crm import` run as a user runs it (a process of its own), and what an import leaves behind,
for comparing two runs: the resumed one and the clean one, several processes and one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from crm.adapters.stream_owners import stream_owners
from crm.read_model.tables import customers, imports, visits


def crm_import(settings, kind: str, path: Path, restaurant_id, processes: int | None = None) -> subprocess.Popen:
    """`crm import KIND PATH --restaurant ID` started (with `--processes N` when given)."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "crm", "import", kind, str(path), "--restaurant", str(restaurant_id)]
    if processes is not None:
        command += ["--processes", str(processes)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def progress(engine, restaurant_id) -> int:
    """Rows done by the restaurant's import, as the read side shows it."""
    with engine.connect() as connection:
        done = connection.execute(select(imports.c.rows_done).where(imports.c.restaurant_id == restaurant_id)).scalar()
    return done or 0


def final_state(container, restaurant_id) -> dict:
    """Everything the restaurant's imports left: customers, visits and totals, each stream's
    events, the imports' events, summaries and reports."""
    container.read_side.wait_for(container.runner.head())
    with container.engine.connect() as connection:
        people = connection.execute(
            select(
                customers.c.email,
                customers.c.first_name,
                customers.c.last_name,
                customers.c.email_consent,
                customers.c.external_id,
                customers.c.visit_count,
                customers.c.total_spend_cents,
                customers.c.last_visit_at,
            ).where(customers.c.restaurant_id == restaurant_id)
        ).all()
        their_visits = connection.execute(
            select(customers.c.email, visits.c.spend_cents, visits.c.visited_at)
            .join(customers, customers.c.id == visits.c.customer_id)
            .where(customers.c.restaurant_id == restaurant_id)
        ).all()
        owned = list(
            connection.execute(
                select(stream_owners.c.stream_id).where(stream_owners.c.owner_id == restaurant_id)
            ).scalars()
        )
        summaries = connection.execute(
            select(
                imports.c.kind,
                imports.c.status,
                imports.c.rows_done,
                imports.c.imported,
                imports.c.updated,
                imports.c.unchanged,
                imports.c.rejected,
            )
            .where(imports.c.restaurant_id == restaurant_id)
            .order_by(imports.c.kind)
        ).all()
    import_ids = [i["id"] for i in container.import_queries.imports(None, restaurant_id, 1, 10).items]
    events = container.application.recorder.select_streams([*owned, *import_ids])
    # Streams of customers or visits: the same ids whatever the run (visits by their external
    # id or their row, customers' ids from the import and the row) is not promised, so compare
    # each stream's events by their kinds and versions.
    streams: dict = {}
    for event in events:
        if event.originator_id not in import_ids:
            streams.setdefault(event.originator_id, []).append((event.topic, event.originator_version))
    return {
        "customers": sorted(tuple(row) for row in people),
        "visits": sorted(tuple(row) for row in their_visits),
        "streams": sorted(tuple(sorted(kinds)) for kinds in streams.values()),
        "import events": sorted((e.topic, e.originator_version) for e in events if e.originator_id in import_ids),
        "imports": [tuple(row) for row in summaries],
        "reports": sorted(tuple(r.items()) for i in import_ids for r in container.import_queries.all_rejections(i)),
    }
