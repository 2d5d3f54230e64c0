"""PostgreSQL LISTEN on a dedicated connection: wakes a follower as soon as something commits.

NOTIFY is transactional: a notification is delivered when (and only if) the transaction that
sent it commits. The event store notifies `crm_events` with every insert; projection batches
notify `crm_projected` with `name:position`. Listeners treat a notification as a hint and
always read the database for the truth, so a lost notification costs only a poll interval.
"""

from __future__ import annotations

from sqlalchemy import text

from crm.adapters.notifications import Listener, connect_args

__all__ = [
    "EVENTS_CHANNEL",
    "PROJECTED_CHANNEL",
    "Listener",
    "announce_projected",
    "connect_args",
    "events_listener",
    "parse_projected",
]

EVENTS_CHANNEL = "crm_events"  # the library's channel: `<application name>_events`
PROJECTED_CHANNEL = "crm_projected"


def events_listener(engine, application_name: str) -> Listener | None:
    """A LISTEN for the event store's commits on PostgreSQL; None elsewhere (SQLite: poll)."""
    if engine.dialect.name != "postgresql":
        return None
    return Listener(engine, EVENTS_CHANNEL, application_name)


def announce_projected(executor, name: str, position: int) -> None:
    """NOTIFY that projection `name` reached `position`, when the caller's transaction commits.

    `executor` is a Session or Connection on PostgreSQL (SQLite has no NOTIFY: its waiters poll).
    """
    executor.execute(text(f"SELECT pg_notify('{PROJECTED_CHANNEL}', :p)"), {"p": f"{name}:{position}"})


def projected_notice(name: str, position: int) -> str:
    """`announce_projected` as SQL text, to send with other statements (PostgreSQL)."""
    payload = f"{name}:{int(position)}".replace("'", "''")
    return f"NOTIFY {PROJECTED_CHANNEL}, '{payload}'"


def parse_projected(payload: str) -> tuple[str, int]:
    """The (name, position) of a `PROJECTED_CHANNEL` payload."""
    name, _, position = payload.rpartition(":")
    return name, int(position)
