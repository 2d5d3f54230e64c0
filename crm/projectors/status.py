"""`crm projections status`: where each projection stands against the head of the log."""

from __future__ import annotations

from sqlalchemy import func, select, text

from crm.locks import lock_key
from crm.projectors.daemon import Leases, lease_name
from crm.read_model.tables import projection_tracking


def projection_status(container) -> list[dict]:
    """One row per projection: position, head, events it has yet to apply, and who holds its lease."""
    runner = container.runner
    events = runner.app.recorder.events_record_cls.__table__
    head = runner.head()
    rows = []
    with container.engine.connect() as conn:
        positions = dict(conn.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all())
        for name in runner.projectors:
            position = positions.get(name, 0)
            # Lag: the events of the kinds this projection applies that it has not applied yet.
            topics = runner.projectors[name].topics
            behind = conn.execute(
                select(func.count()).select_from(events).where(events.c.id > position, events.c.topic.in_(topics))
            ).scalar_one()
            rows.append(
                {
                    "name": name,
                    "position": position,
                    "head": head,
                    "behind": behind,
                    "projector": _holder(container.engine, conn, name),
                }
            )
    return rows


def _holder(engine, conn, name: str) -> str:
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
