"""A URI over 4,096 bytes is a 414 in the contract's JSON shape, from the app and under the real
server; what gunicorn answers itself (a request line over its own limit, one it cannot parse) is
JSON too, never an HTML page."""

from __future__ import annotations

import http.client
import json
import socket

from crm.http.connections import MAX_URI_BYTES
from tests.e2e.e2e_support import assert_error


def test_a_uri_over_the_limit_is_a_414_before_authentication(admin, client):
    long_query = "x" * MAX_URI_BYTES

    for api in (admin, client):
        response = api.get(f"/api/customers/?search={long_query}")
        body = assert_error(response, 414)
        assert str(MAX_URI_BYTES) in body["message"]
    # Check one byte less is not refused for its length.
    path = "/api/customers/?search="
    assert admin.get(path + "x" * (MAX_URI_BYTES - len(path))).status_code == 400  # search: at most 200


def test_every_operation_documents_its_414(client):
    spec = client.get("/api/openapi.json").get_json()
    missing = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "414" not in operation.get("responses", {})
    ]
    assert missing == []


def raw(port: int, request: bytes) -> tuple[int, str, dict]:
    """Send bytes as they are; the status, content type and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())


def test_the_served_app_answers_long_uris_and_gunicorn_its_own_errors_as_json(served):
    port, key = served
    auth = f"Authorization: Bearer {key}\r\n".encode()

    # Check a URI over the app's limit (gunicorn's default limit was below it) reaches the app.
    uri = b"/api/customers/?search=" + b"x" * 6000
    status, kind, body = raw(port, b"GET " + uri + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
    assert (status, kind) == (414, "application/json") and str(MAX_URI_BYTES) in body["message"]
    # Check gunicorn's own answers: a request line over its limit, and one it cannot parse.
    uri = b"/api/customers/?search=" + b"x" * 9000
    status, kind, body = raw(port, b"GET " + uri + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, kind) == (414, "application/json") and body["message"].startswith("URI Too Long")
    status, kind, body = raw(port, b"NOT A REQUEST\r\n\r\n")
    assert (status, kind) == (400, "application/json") and body["message"].startswith("Bad Request")
