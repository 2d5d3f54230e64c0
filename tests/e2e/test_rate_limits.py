"""Rate limits: per credential, 429 with Retry-After and a JSON body; the unsubscribe link per token."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from crm import bootstrap
from crm.http import create_app


@pytest.fixture
def limited(settings, clock):
    """An app whose limits are 5 requests a minute per credential, 2 per unsubscribe token."""
    container = bootstrap.build(
        replace(settings, rate_limit="5/minute", rate_limit_unsubscribe="2/minute"), clock=clock
    )
    app = create_app(container=container)
    yield app.test_client(), container
    container.close()


def test_a_key_over_its_limit_gets_429_with_retry_after_and_others_do_not(limited):
    client, container = limited
    first = {"Authorization": f"Bearer {container.api_keys.issue('first', None)}"}
    second = {"Authorization": f"Bearer {container.api_keys.issue('second', None)}"}
    for _ in range(5):
        assert client.get("/api/restaurants/", headers=first).status_code == 200

    refused = client.get("/api/restaurants/", headers=first)

    assert refused.status_code == 429
    assert refused.get_json()["message"].startswith("Too many requests: at most 5 per 1 minute.")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-Request-ID"]
    assert client.get("/api/restaurants/", headers=second).status_code == 200  # another key: its own count
    for _ in range(3):
        assert client.get("/healthz").status_code == 200  # health checks are never limited
        assert client.get("/readyz").status_code == 200


def test_one_count_per_credential_over_every_route(limited):
    client, container = limited
    key = {"Authorization": f"Bearer {container.api_keys.issue('key', None)}"}
    statuses = [
        client.get(path, headers=key).status_code for path in ["/api/restaurants/"] * 3 + ["/api/customers/"] * 2
    ]
    assert statuses == [200] * 5

    assert client.get("/api/campaigns/", headers=key).status_code == 429
    assert client.get("/api/restaurants/", headers=key).status_code == 429


def test_refused_keys_and_anonymous_callers_count_too(limited):
    client, _ = limited
    bogus = {"Authorization": "Bearer crm_not-a-key"}
    assert [client.get("/api/restaurants/", headers=bogus).status_code for _ in range(6)] == [401] * 5 + [429]
    assert [client.get("/api/restaurants/").status_code for _ in range(6)] == [401] * 5 + [429]


def test_the_unsubscribe_link_is_limited_per_token(limited):
    client, container = limited
    app = container.application
    restaurant = app.open_restaurant("Pizza Palace", actor="admin").id
    customers = [app.register_customer(restaurant, f"c{n}@example.com", actor="a", scope=None).id for n in range(2)]
    links = ["/u/" + container.unsubscribe_links.token(c, uuid.uuid4()) for c in customers]
    body = {"List-Unsubscribe": "One-Click"}

    statuses = [client.post(links[0], data=body).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert client.post(links[1], data=body).status_code == 200  # another token: its own count


def test_limits_can_be_turned_off(settings, clock):
    container = bootstrap.build(replace(settings, rate_limit="off"), clock=clock)
    try:
        client = create_app(container=container).test_client()
        assert {client.get("/api/restaurants/").status_code for _ in range(20)} == {401}
    finally:
        container.close()
