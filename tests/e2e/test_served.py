"""The real thing: `python -m crm serve` (gunicorn) answering HTTP on a local port."""

from __future__ import annotations

import http.client
import json


def call(port, method, path, key=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = json.loads(response.read() or b"null")
    return response.status, payload, dict(response.getheaders())


def test_served_api_round_trip(served):
    port, key = served
    # Check the server is gunicorn, not Flask's development server.
    status, _, headers = call(port, "GET", "/api/openapi.json")
    assert status == 200 and "gunicorn" in headers.get("Server", "").lower()
    # Check a client that writes then reads sees its write.
    status, restaurant, _ = call(port, "POST", "/api/restaurants/", key, {"name": "Pizza Palace"})
    assert status == 201 and restaurant["timezone"] == "UTC"
    status, customer, _ = call(
        port, "POST", "/api/customers/", key, {"restaurant": restaurant["id"], "email": "john@example.com"}
    )
    assert status == 201
    status, visit, _ = call(port, "POST", f"/api/customers/{customer['id']}/add_visit/", key, {"spend_cents": 2500})
    assert status == 201 and visit["spend_dollars"] == "25.00"
    status, spenders, _ = call(port, "GET", "/api/customers/high_spenders/?min_spend_cents=2500", key)
    assert status == 200 and [c["id"] for c in spenders["results"]] == [customer["id"]]
    # Check errors are JSON here too.
    status, error, _ = call(port, "GET", "/api/customers/")
    assert status == 401 and "message" in error
