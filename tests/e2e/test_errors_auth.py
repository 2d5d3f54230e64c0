"""A missing, malformed or revoked API key is a 401; an admin-only action with a restaurant key is a 403."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.e2e_support import assert_error
from tests.e2e.errors_support import fill, state
from tests.e2e.errors_support import world as world  # a fixture: imported by its name so pytest finds it here

# -- 401 ------------------------------------------------------------------------------------

AUTH_ROUTES = [
    ("GET", "/api/restaurants/", None),
    ("POST", "/api/restaurants/", {"name": "Intruder"}),
    ("GET", "/api/customers/{c}/", None),
    ("GET", "/api/customers/{c}/history/", None),
    ("POST", "/api/customers/{c}/add_visit/", {"spend_cents": 100}),
    ("DELETE", "/api/visits/{v}/", None),
    ("GET", "/api/customers/inactive/", None),
]


def bad_authorizations(valid: str) -> dict[str, str | None]:
    return {
        "none": None,
        "empty": "",
        "scheme only": "Bearer",
        "scheme and space": "Bearer ",
        "unknown key": "Bearer crm_" + "x" * 43,
        "no prefix": "Bearer " + uuid.uuid4().hex,
        "tampered key": f"Bearer {valid}x",
        "truncated key": f"Bearer {valid[:-1]}",
        "no scheme": valid,
        "basic scheme": f"Basic {valid}",
        "token scheme": f"Token {valid}",
    }


def test_request_without_a_valid_key_is_401(admin, client, world):
    before = state(admin, world)

    answers = {}
    for method, path, body in AUTH_ROUTES:
        for variant, authorization in bad_authorizations(admin.key).items():
            headers = {} if authorization is None else {"Authorization": authorization}
            response = client.open(fill(path, world), method=method, json=body, headers=headers)
            message = (response.get_json(silent=True) or {}).get("message")
            challenge = response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
            answers[(method, path, variant)] = (response.status_code, bool(message), challenge)

    assert answers == {case: (401, True, True) for case in answers}
    assert state(admin, world) == before


def test_revoked_key_is_401(container, key_of, restaurant):
    api = key_of(restaurant, "soon-revoked")
    assert api.get("/api/customers/").status_code == 200

    container.api_keys.revoke("soon-revoked")

    assert_error(api.get("/api/customers/"), 401)
    assert_error(api.post("/api/customers/", json={"email": "late@example.com"}), 401)


# -- 403 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/api/restaurants/", {"name": "Franchise"}), ("DELETE", "/api/restaurants/{r}/", None)],
)
def test_admin_only_action_with_a_restaurant_key_is_403(admin, world, key_of, restaurant, method, path, body):
    before = state(admin, world)

    response = key_of(restaurant).request(method, fill(path, world), json=body)

    assert_error(response, 403)
    assert state(admin, world) == before
