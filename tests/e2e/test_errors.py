"""Errors are JSON, always: 400 with field errors, 401, 403, 404, 405, 413, and never a 5xx.

The tables are checked in one loop per route (one database setup each, which keeps the tier
fast); every loop compares the whole table of answers at once, so a failure shows every row.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import (
    CUSTOMER_FIELDS,
    ID_KINDS,
    RESTAURANT_FIELDS,
    assert_error,
    assert_invalid,
    call,
    id_calls,
)

LISTS = (
    "/api/restaurants/",
    "/api/customers/",
    "/api/visits/",
    "/api/customers/inactive/",
    "/api/customers/high_spenders/",
)
MIB = 1024 * 1024


@pytest.fixture
def world(make, restaurant, customer, clock) -> dict[str, str]:
    """Ids to fill path and body templates: {r} restaurant, {c} customer, {v} visit."""
    visit = make.visit(customer, 1_000, clock.now - timedelta(days=1))
    return {"r": restaurant["id"], "c": customer["id"], "v": visit["id"]}


def fill(value, world: dict[str, str]):
    if isinstance(value, str):
        for tag, id_ in world.items():
            value = value.replace("{" + tag + "}", id_)
        return value
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value


def state(admin, world: dict[str, str]) -> dict:
    """What a refused request must leave exactly as it was."""
    return {
        "restaurants": admin.get("/api/restaurants/").get_json(),
        "customers": admin.get("/api/customers/").get_json(),
        "visits": admin.get("/api/visits/").get_json(),
        "history": admin.get(f"/api/customers/{world['c']}/history/").get_json(),
    }


def shape_400(response, field: str | None = None) -> tuple:
    """(status, has a message, has field errors, names `field`): one row of a 400 table."""
    body = response.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    errors = body.get("errors")
    well_formed = (
        isinstance(errors, dict)
        and bool(errors)
        and all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in errors.values())
    )
    named = field is None or (isinstance(errors, dict) and field in errors)
    return response.status_code, isinstance(body.get("message"), str), well_formed, named


OK_400 = (400, True, True, True)


# -- 400: query parameters ------------------------------------------------------------------

BAD_PAGING = [("page", v) for v in ("abc", "0", "-1", "1.5", "", "1e3", "10000001", "99999999999999999999")] + [
    ("page_size", v) for v in ("0", "201", "abc", "2.0", "-5", "", "1e2")
]


@pytest.mark.parametrize("path", LISTS)
def test_bad_paging_is_400(admin, path):
    answers = {case: shape_400(admin.get(path, query_string=dict([case])), case[0]) for case in BAD_PAGING}

    assert answers == {case: OK_400 for case in BAD_PAGING}


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/api/customers/", "restaurant_id", "abc"),
        ("/api/customers/", "restaurant_id", "123"),
        ("/api/customers/", "restaurant_id", f"{uuid.uuid4()}-0"),
        ("/api/customers/", "search", "x" * 201),
        ("/api/visits/", "customer_id", "not-a-uuid"),
        ("/api/customers/inactive/", "restaurant_id", "abc"),
        ("/api/customers/high_spenders/", "restaurant_id", "abc"),
        ("/api/customers/inactive/", "days", "-1"),
        ("/api/customers/inactive/", "days", "36501"),
        ("/api/customers/inactive/", "days", "abc"),
        ("/api/customers/inactive/", "days", "1.5"),
        ("/api/customers/inactive/", "days", "30.0"),
        ("/api/customers/inactive/", "days", "1e2"),
        ("/api/customers/inactive/", "days", ""),
        ("/api/customers/inactive/", "days", "99999999999999999999"),
        ("/api/customers/high_spenders/", "min_spend_cents", "-1"),
        ("/api/customers/high_spenders/", "min_spend_cents", str(10**12 + 1)),
        ("/api/customers/high_spenders/", "min_spend_cents", "1.5"),
        ("/api/customers/high_spenders/", "min_spend_cents", "abc"),
        ("/api/customers/high_spenders/", "min_spend_cents", "1e3"),
        ("/api/customers/high_spenders/", "min_spend_cents", ""),
    ],
)
def test_bad_query_parameter_is_400(admin, path, name, value):
    assert_invalid(admin.get(path, query_string={name: value}), name)


def test_query_parameters_at_their_limits_are_accepted(admin):
    cases = [
        ("/api/customers/inactive/", "days", "0"),
        ("/api/customers/inactive/", "days", "36500"),
        ("/api/customers/high_spenders/", "min_spend_cents", "0"),
        ("/api/customers/high_spenders/", "min_spend_cents", str(10**12)),
        ("/api/customers/", "page", "10000000"),
        ("/api/customers/", "page_size", "200"),
        ("/api/customers/", "search", "x" * 200),
    ]

    answers = {case: admin.get(case[0], query_string={case[1]: case[2]}).status_code for case in cases}

    assert answers == {case: 200 for case in cases}


# -- 400: bodies ----------------------------------------------------------------------------

LONG_EMAIL = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com"  # 255 characters
assert len(LONG_EMAIL) == 255
_C = {"restaurant": "{r}", "email": "x@example.com"}  # a valid customer, to spoil one field at a time

INVALID_BODIES: dict[tuple[str, str], list[tuple[object, str]]] = {
    ("POST", "/api/restaurants/"): [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": ["Diner"]}, "name"),
        ({"name": "Diner", "timezone": "Mars/Base"}, "timezone"),
        ({"name": "Diner", "timezone": ""}, "timezone"),
        ({"name": "Diner", "timezone": "europe/paris"}, "timezone"),
        ({"name": "Diner", "timezone": 3}, "timezone"),
        ({"name": "Diner", "timezone": None}, "timezone"),
        ({"name": "Diner", "owner": "me"}, "owner"),
    ],
    ("PUT", "/api/restaurants/{r}/"): [
        ({"timezone": "UTC"}, "name"),
        ({"name": "Diner", "timezone": "Mars/Base"}, "timezone"),
        ({"name": "x" * 201}, "name"),
    ],
    ("PATCH", "/api/restaurants/{r}/"): [
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"name": "x" * 201}, "name"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"stars": 5}, "stars"),
    ],
    ("POST", "/api/customers/"): [
        ({"restaurant": "{r}"}, "email"),
        ({**_C, "email": "not-an-email"}, "email"),
        ({**_C, "email": "a@b"}, "email"),
        ({**_C, "email": "@example.com"}, "email"),
        ({**_C, "email": "john@"}, "email"),
        ({**_C, "email": "jo hn@example.com"}, "email"),
        ({**_C, "email": ""}, "email"),
        ({**_C, "email": 5}, "email"),
        ({**_C, "email": None}, "email"),
        ({**_C, "email": LONG_EMAIL}, "email"),
        ({**_C, "first_name": "x" * 201}, "first_name"),
        ({**_C, "last_name": "x" * 201}, "last_name"),
        ({**_C, "first_name": 5}, "first_name"),
        ({**_C, "last_name": None}, "last_name"),
        ({**_C, "restaurant": "abc"}, "restaurant"),
        ({**_C, "restaurant": 5}, "restaurant"),
        ({**_C, "phone": "555"}, "phone"),
    ],
    ("PUT", "/api/customers/{c}/"): [
        ({"first_name": "Jon"}, "email"),
        ({"email": "nope"}, "email"),
        ({"email": "jd@example.com", "last_name": "x" * 201}, "last_name"),
    ],
    ("PATCH", "/api/customers/{c}/"): [
        ({"email": "nope"}, "email"),
        ({"email": LONG_EMAIL}, "email"),
        ({"first_name": None}, "first_name"),
        ({"last_name": "x" * 201}, "last_name"),
        ({"nickname": "JD"}, "nickname"),
    ],
    ("POST", "/api/customers/{c}/add_visit/"): [
        ({}, "spend_cents"),
        ({"spend_cents": 1.5}, "spend_cents"),
        ({"spend_cents": 1.0}, "spend_cents"),
        ({"spend_cents": True}, "spend_cents"),
        ({"spend_cents": False}, "spend_cents"),
        ({"spend_cents": "100"}, "spend_cents"),
        ({"spend_cents": None}, "spend_cents"),
        ({"spend_cents": -1}, "spend_cents"),
        ({"spend_cents": 100_000_001}, "spend_cents"),
        ({"spend_cents": 10**30}, "spend_cents"),
        ({"spend_cents": [100]}, "spend_cents"),
        ({"spend_cents": {"cents": 100}}, "spend_cents"),
        ({"spend_cents": 1, "visited_at": "2024-01-01T12:00:00"}, "visited_at"),
        ({"spend_cents": 1, "visited_at": "2024-01-01"}, "visited_at"),
        ({"spend_cents": 1, "visited_at": "last tuesday"}, "visited_at"),
        ({"spend_cents": 1, "visited_at": 1_700_000_000}, "visited_at"),
        ({"spend_cents": 1, "tip_cents": 100}, "tip_cents"),
    ],
    ("POST", "/api/visits/"): [
        ({"spend_cents": 100}, "customer"),
        ({"customer": "abc", "spend_cents": 100}, "customer"),
        ({"customer": "{c}"}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": "100"}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": 2.5}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": True}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": -100}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": 100_000_001}, "spend_cents"),
        ({"customer": "{c}", "spend_cents": 1, "visited_at": "2024-01-01T12:00:00"}, "visited_at"),
        ({"customer": "{c}", "spend_cents": 1, "table": 4}, "table"),
    ],
    ("PUT", "/api/visits/{v}/"): [
        ({}, "spend_cents"),
        ({"spend_cents": True}, "spend_cents"),
        ({"spend_cents": 100_000_001}, "spend_cents"),
        ({"spend_cents": 1, "visited_at": "2024-01-01T00:00:00"}, "visited_at"),
    ],
    ("PATCH", "/api/visits/{v}/"): [
        ({"spend_cents": None}, "spend_cents"),
        ({"spend_cents": 1.5}, "spend_cents"),
        ({"spend_cents": "5"}, "spend_cents"),
        ({"spend_cents": -1}, "spend_cents"),
        ({"visited_at": None}, "visited_at"),
        ({"visited_at": "2024-01-01T00:00:00"}, "visited_at"),
        ({"note": "x"}, "note"),
    ],
}
# Bodies that are not a JSON object at all: malformed, a list, a string, a number...
NOT_AN_OBJECT = [
    "[]",
    '[{"name": "x"}]',
    '"x"',
    "5",
    "null",
    "true",
    "{bad",
    '{"name": }',
    '{"name": "x"',
    b'{"n": "\xff"}',
]


@pytest.mark.parametrize(("method", "path"), list(INVALID_BODIES))
def test_invalid_body_is_400_and_changes_nothing(admin, world, method, path):
    before = state(admin, world)
    table = INVALID_BODIES[(method, path)]

    answers = {}
    for body, field in table:
        response = admin.request(method, fill(path, world), json=fill(body, world))
        answers[json.dumps(body)[:80]] = shape_400(response, field)
    for raw in NOT_AN_OBJECT:
        response = admin.request(method, fill(path, world), data=raw, content_type="application/json")
        answers[raw] = shape_400(response)

    assert answers == {label: OK_400 for label in answers}
    assert state(admin, world) == before


# -- 413 ------------------------------------------------------------------------------------


def test_body_over_one_mib_is_413_on_every_writing_route(admin, world):
    before = state(admin, world)
    raw = json.dumps({"name": "x" * MIB})

    answers = {}
    for method, path in INVALID_BODIES:
        response = admin.request(method, fill(path, world), data=raw, content_type="application/json")
        answers[(method, path)] = (response.status_code, bool((response.get_json(silent=True) or {}).get("message")))

    assert answers == {route: (413, True) for route in INVALID_BODIES}
    assert state(admin, world) == before


def test_body_just_under_one_mib_is_read(admin):
    raw = json.dumps({"name": "x" * (MIB - 100)})
    assert len(raw.encode()) <= MIB

    # Check it is judged on its content (too long a name), not its size.
    assert_invalid(admin.post("/api/restaurants/", data=raw, content_type="application/json"), "name")


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


# -- 404 ------------------------------------------------------------------------------------


def test_every_id_route_answers_404_for_unknown_ids(app, admin, world):
    unknown = {kind: str(uuid.uuid4()) for kind in ID_KINDS}
    before = state(admin, world)

    answers = {}
    for id_call in id_calls(app):
        response = call(admin, id_call, unknown)
        answers[str(id_call)] = (response.status_code, bool((response.get_json(silent=True) or {}).get("message")))

    assert answers == {name: (404, True) for name in answers}
    assert state(admin, world) == before


def test_an_id_of_another_kind_is_404(admin, world):
    cases = [
        ("GET", "/api/customers/{r}/", None),
        ("GET", "/api/customers/{v}/", None),
        ("PATCH", "/api/customers/{r}/", {"first_name": "X"}),
        ("PUT", "/api/customers/{v}/", {"email": "x@example.com"}),
        ("DELETE", "/api/customers/{v}/", None),
        ("GET", "/api/customers/{r}/history/", None),
        ("GET", "/api/customers/{v}/history/", None),
        ("POST", "/api/customers/{r}/add_visit/", {"spend_cents": 1}),
        ("GET", "/api/restaurants/{c}/", None),
        ("PATCH", "/api/restaurants/{c}/", {"name": "X"}),
        ("DELETE", "/api/restaurants/{v}/", None),
        ("GET", "/api/visits/{c}/", None),
        ("PUT", "/api/visits/{r}/", {"spend_cents": 1}),
        ("DELETE", "/api/visits/{c}/", None),
    ]
    before = state(admin, world)

    answers = {(m, p): admin.request(m, fill(p, world), json=body).status_code for m, p, body in cases}

    assert answers == {(m, p): 404 for m, p, _ in cases}
    assert state(admin, world) == before


def test_unknown_path_is_404(admin, world):
    paths = [
        "/api/restaurants/123/",
        "/api/customers/not-a-uuid/",
        "/api/customers/not-a-uuid/history/",
        "/api/customers/1/add_visit/",
        "/api/visits/zzz/",
        "/api/visits/{v}x/",
        "/api/nothing/",
    ]

    answers = {}
    for method in ("GET", "DELETE"):
        for path in paths:
            response = admin.request(method, fill(path, world))
            answers[(method, path)] = (
                response.status_code,
                bool((response.get_json(silent=True) or {}).get("message")),
            )

    assert answers == {case: (404, True) for case in answers}


# -- 405 ------------------------------------------------------------------------------------


def test_wrong_method_is_405_with_allow(admin, world):
    cases = {
        ("DELETE", "/api/restaurants/"): {"GET", "POST"},
        ("PUT", "/api/customers/"): {"GET", "POST"},
        ("PATCH", "/api/visits/"): {"GET", "POST"},
        ("POST", "/api/restaurants/{r}/"): {"GET", "PUT", "PATCH", "DELETE"},
        ("POST", "/api/visits/{v}/"): {"GET", "PUT", "PATCH", "DELETE"},
        ("GET", "/api/customers/{c}/add_visit/"): {"POST"},
        ("DELETE", "/api/customers/{c}/history/"): {"GET"},
        ("POST", "/api/customers/inactive/"): {"GET"},
        ("DELETE", "/api/customers/high_spenders/"): {"GET"},
    }
    before = state(admin, world)

    answers = {}
    for method, path in cases:
        response = admin.request(method, fill(path, world), json={})
        allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
        message = bool((response.get_json(silent=True) or {}).get("message"))
        answers[(method, path)] = (response.status_code, message, allow - {"HEAD", "OPTIONS"})

    assert answers == {case: (405, True, allowed) for case, allowed in cases.items()}
    assert state(admin, world) == before


# -- never a 5xx ----------------------------------------------------------------------------

HOSTILE_BODIES = [
    ("POST", "/api/restaurants/", "[" * 100_000 + "]" * 100_000),
    ("POST", "/api/restaurants/", '{"name": ' + "[" * 50_000 + "]" * 50_000 + "}"),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": ' + "9" * 5000 + "}"),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": 1e400}'),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": NaN}'),
    ("POST", "/api/customers/{c}/add_visit/", '{"spend_cents": 1, "visited_at": "0001-01-01T00:00:00+01:00"}'),
    ("PATCH", "/api/visits/{v}/", '{"visited_at": "0001-01-01T00:30:00+05:00"}'),
    ("POST", "/api/restaurants/", '{"name": "Caf\\ud800"}'),
    ("POST", "/api/customers/", '{"restaurant": "{r}", "email": "s@example.com", "first_name": "\\udfff"}'),
    ("PATCH", "/api/customers/{c}/", '{"last_name": "\\ud800\\ud800"}'),
]


def test_hostile_bodies_are_400_not_5xx(admin, world):
    before = state(admin, world)

    answers = {}
    for method, path, raw in HOSTILE_BODIES:
        response = admin.request(method, fill(path, world), data=fill(raw, world), content_type="application/json")
        answers[f"{method} {path} {raw[:60]}"] = shape_400(response)

    assert answers == {case: OK_400 for case in answers}
    assert state(admin, world) == before


def test_hostile_queries_are_answered_without_a_5xx(admin, world):
    cases = [
        ("/api/customers/{c}/", "as_of=0001-01-01T00:00:00%2B01:00"),
        ("/api/customers/{c}/", "as_of=9999-12-31T23:59:59-01:00"),
        ("/api/customers/{c}/", "as_of=%00"),
        ("/api/customers/", "search=%00"),
        ("/api/customers/", "search=a%00b"),
        ("/api/customers/", "search=%ED%A0%80"),
        ("/api/customers/", "search=%FF%FE"),
        ("/api/customers/", "restaurant_id=%00"),
        ("/api/visits/", "customer_id=%ED%A0%80"),
        ("/api/customers/inactive/", "days=%00"),
        ("/api/customers/high_spenders/", "min_spend_cents=%EF%BC%91"),  # a full-width digit one
    ]

    answers = {}
    for path, query in cases:
        response = admin.get(f"{fill(path, world)}?{query}")
        answers[(path, query)] = (response.status_code in (200, 400, 404), response.is_json, response.status_code)

    assert answers == {case: (True, True, status) for case, (_, _, status) in answers.items()}, answers


@pytest.mark.parametrize("text", ["a\x00b", "tab\tand\nnewline", "emoji \U0001f355 rtl \u202e"])
def test_odd_characters_in_names_never_break_later_reads(admin, restaurant, customer, text):
    # Check the odd writes themselves are answered without a 5xx.
    odd_restaurant = admin.post("/api/restaurants/", json={"name": text})
    odd_customer = admin.post(
        "/api/customers/", json={"restaurant": restaurant["id"], "email": "odd@example.com", "first_name": text}
    )
    assert odd_restaurant.status_code in (201, 400), odd_restaurant.get_data(as_text=True)
    assert odd_customer.status_code in (201, 400), odd_customer.get_data(as_text=True)

    # Check ordinary writes afterwards are still read straight back (read-your-writes).
    later_restaurant = admin.post("/api/restaurants/", json={"name": "Later"})
    later_customer = admin.post("/api/customers/", json={"restaurant": restaurant["id"], "email": "later@example.com"})
    later_visit = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 5})
    assert [
        admin.get(f"/api/restaurants/{later_restaurant.get_json()['id']}/").status_code,
        admin.get(f"/api/customers/{later_customer.get_json()['id']}/").status_code,
        admin.get(f"/api/visits/{later_visit.get_json()['id']}/").status_code,
        admin.get(f"/api/customers/{customer['id']}/").get_json()["total_spend_cents"],
    ] == [200, 200, 200, 5]
    assert later_restaurant.get_json().get("name") == "Later"
    assert set(later_customer.get_json()) == CUSTOMER_FIELDS

    # Check what was accepted reads back whole.
    if odd_restaurant.status_code == 201:
        assert set(odd_restaurant.get_json()) == RESTAURANT_FIELDS
        assert admin.get(f"/api/restaurants/{odd_restaurant.get_json()['id']}/").get_json()["name"] == text.strip()
    if odd_customer.status_code == 201:
        assert set(odd_customer.get_json()) == CUSTOMER_FIELDS
        assert admin.get(f"/api/customers/{odd_customer.get_json()['id']}/").get_json()["first_name"] == text.strip()
