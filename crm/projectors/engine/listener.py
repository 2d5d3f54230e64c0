"""PostgreSQL LISTEN on a dedicated connection: wakes a follower as soon as something commits.

NOTIFY is transactional: a notification is delivered when (and only if) the transaction that
sent it commits. The event store notifies `crm_events` with every insert; projection batches
notify `crm_projected` with `name:position`. Listeners treat a notification as a hint and
always read the database for the truth, so a lost notification costs only a poll interval.
"""

from __future__ import annotations

import select

import psycopg2
import psycopg2.extensions
from sqlalchemy import text
from sqlalchemy.engine import Engine

EVENTS_CHANNEL = "crm_events"  # the library's channel: `<application name>_events`
PROJECTED_CHANNEL = "crm_projected"


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


def connect_args(engine: Engine) -> dict:
    """psycopg2 connection arguments for the engine's URL (host, port, user, dbname, options)."""
    url = engine.url
    args = url.translate_connect_args(username="user", database="dbname")
    args.update({key: value for key, value in url.query.items() if isinstance(value, str)})
    return args


class Listener:
    """LISTEN to `channel`; `wait(timeout)` returns the payloads received (empty on timeout)."""

    def __init__(self, engine: Engine, channel: str, application_name: str = "crm-listener"):
        args = connect_args(engine)
        args.setdefault("application_name", application_name)
        self._connection = psycopg2.connect(**args)
        self._connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self._connection.cursor() as cursor:
            cursor.execute(f"LISTEN {channel}")

    def wait(self, timeout: float) -> list[str]:
        """Block up to `timeout` seconds; raise if the connection is gone."""
        connection = self._connection
        if not connection.notifies:
            readable, _, _ = select.select([connection], [], [], timeout)
            if not readable:
                return []
        connection.poll()  # raises OperationalError when the server closed the connection
        payloads = [n.payload for n in connection.notifies]
        connection.notifies.clear()
        return payloads

    def close(self) -> None:
        try:
            self._connection.close()
        except psycopg2.Error:
            pass

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
