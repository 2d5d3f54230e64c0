"""A kept-alive connection survives an answer that left the request body unread (a 413, a 404, a
route that takes no body), under the real server: the next request on it is answered."""

from __future__ import annotations

import http.client
import socket
import threading

import pytest
import waitress.server

MAX_BODY = 1024 * 1024  # the default MAX_BODY_BYTES


def pooled(port: int) -> http.client.HTTPConnection:
    """One persistent connection, reused as a pooled client reuses it."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def exchange(conn, method: str, path: str, key: str, body: bytes | None = None) -> tuple[int, str | None]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("Connection")


UNREAD = [
    ("POST", "/api/restaurants/", MAX_BODY + 1, 413),  # over the limit by one byte
    ("POST", "/api/restaurants/", 2 * MAX_BODY, 413),
    ("POST", "/api/campaigns/0c6e5b1a-8f3d-4e27-b9a4-5d7c2e1f6a38/run/", 100_000, 404),  # a route that reads no body
    ("POST", "/api/no-such-route/", 100_000, 404),
    ("GET", "/api/restaurants/", 100_000, 200),  # a body on a GET, never read
]


@pytest.mark.parametrize(("method", "path", "size", "status"), UNREAD)
def test_the_next_request_on_the_connection_is_answered(served, method, path, size, status):
    port, key = served
    conn = pooled(port)
    try:
        assert exchange(conn, method, path, key, b"x" * size)[0] == status
        # Check the same connection (or, after Connection: close, a clean new one) serves the next request.
        assert exchange(conn, "GET", "/api/restaurants/", key)[0] == 200
        assert exchange(conn, "GET", "/api/restaurants/", key)[0] == 200
    finally:
        conn.close()


def test_a_body_too_long_to_drain_is_answered_with_connection_close(served):
    port, key = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            f"POST /api/restaurants/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {20 * MAX_BODY}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * 1000)  # the rest never comes
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
    status_line, *headers = answer.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert status_line.startswith("HTTP/1.1 413")
    assert "connection: close" in [h.lower() for h in headers]


def test_waitress_closes_or_keeps_the_connection_as_cleanly(app, container):
    """waitress (the Windows server) reads bodies whole before the app: the connection stays usable."""
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()

    def run():
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    conn = pooled(server.effective_port)
    try:
        key = container.api_keys.issue("waitress", None)
        for size in (2 * MAX_BODY, 20 * MAX_BODY):
            assert exchange(conn, "POST", "/api/restaurants/", key, b"x" * size)[0] == 413
            assert exchange(conn, "GET", "/api/restaurants/", key)[0] == 200
    finally:
        conn.close()
        stop.set()
        thread.join(timeout=5)
        server.close()
