"""PostgreSQL LISTEN on a dedicated connection (NOTIFY is delivered when, and only if, the
transaction that sent it commits). Listeners treat a notification as a hint and read the
database for the truth."""

from __future__ import annotations

import select

import psycopg2
import psycopg2.extensions
from sqlalchemy.engine import Engine


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
