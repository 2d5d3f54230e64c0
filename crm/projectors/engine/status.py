"""`crm projections status`: where each projection stands against the head of the log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from crm.locks import lock_key
from crm.projectors.engine import dead_letters, tracking
from crm.projectors.engine.leases import Leases, lease_name
from crm.projectors.engine.runner import ProjectionRunner


def projection_status(runner: ProjectionRunner) -> list[dict]:
    """One row per projection: position, head, events it has yet to apply, and who holds its lease."""
    recorder = runner.recorder
    engine = recorder.datastore.engine
    head = runner.head()
    rows = []
    letters = dead_letters.unresolved(engine)
    with engine.connect() as conn:
        positions = tracking.positions(conn)
        for name, projector in runner.projectors.items():
            position = positions.get(name, 0)
            rows.append(
                {
                    "name": name,
                    "position": position,
                    "head": head,
                    # Lag: the events of the kinds this projection applies that it has not applied yet.
                    "behind": recorder.count(after=position, topics=tuple(projector.topics)),
                    "projector": _holder(engine, conn, name),
                    "dead_letters": letters.get(name, []),
                }
            )
    return rows


def projection_lag(runner: ProjectionRunner, now: datetime) -> dict[str, dict]:
    """Per projection: events of its kinds not applied yet, and for how long the oldest of them
    has waited (seconds since it was recorded; 0 when none waits)."""
    recorder = runner.recorder
    with recorder.datastore.engine.connect() as conn:
        positions = tracking.positions(conn)
    lag = {}
    for name, projector in runner.projectors.items():
        position = positions.get(name, 0)
        topics = tuple(projector.topics)
        oldest = recorder.select_notifications(position, 1, topics=topics, inclusive_of_start=False)
        waited = 0.0
        if oldest:
            event = runner.mapper.to_domain_event(oldest[0])
            waited = max(0.0, (now - event.timestamp).total_seconds())
        behind = recorder.count(after=position, topics=topics) if oldest else 0
        lag[name] = {"position": position, "behind": behind, "lag_seconds": round(waited, 3), "dead_letters": 0}
    for name, kept in dead_letters.unresolved(recorder.datastore.engine).items():
        if name in lag:
            lag[name]["dead_letters"] = len(kept)
    return lag


def _holder(engine: Engine, conn: Connection, name: str) -> str:
    if conn.dialect.name == "postgresql":
        key = lock_key(lease_name(name))
        pid = conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND ((classid::bigint << 32) | objid::bigint) = :k"
            ),
            {"k": key},
        ).scalar()
        return f"active (pid {pid} on the database server)" if pid else "none"
    leases = Leases(engine, [name])
    try:
        return "none" if leases.acquire() else "active"
    finally:
        leases.release()
