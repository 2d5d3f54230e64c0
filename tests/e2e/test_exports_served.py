"""A CSV export from a real `crm serve` (gunicorn) whose client leaves mid-file: the server closes
the stream, and its database connection leaves the cursor's transaction at once."""

from __future__ import annotations

import socket
import time

from sqlalchemy import text

from tests.commands import Caller
from tests.scenarios import seed_customers

CUSTOMERS = 60_000  # about 9 MB: more than the socket buffers hold

# The server's connections reading an export: a cursor's transaction (a FETCH, or the DECLARE).
READING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND state <> 'idle' AND (query LIKE 'FETCH%' OR query LIKE 'DECLARE%')"
)


def readers(container) -> int:
    with container.engine.connect() as conn:
        return conn.execute(READING).scalar_one()


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_client_leaving_mid_file_frees_the_servers_connection(on_postgres, served, container, clock):
    port, key = served
    restaurant_id = Caller(container).open_restaurant("Pizza Palace", actor="admin")
    seed_customers(container, restaurant_id, CUSTOMERS, clock.now)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, before connecting
    client.connect(("127.0.0.1", port))
    client.sendall(
        f"GET /api/customers/export.csv HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
    )
    try:
        head = client.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and b"text/csv; charset=utf-8" in head, head
        # Check the server is mid-file: blocked on the full socket, its cursor open.
        assert wait_for(lambda: readers(container) == 1), "no cursor open while the file is sent"
    finally:
        client.close()

    # Check the stream was closed: the connection left its transaction (back to the pool).
    assert wait_for(lambda: readers(container) == 0), "the export's connection is still reading"
