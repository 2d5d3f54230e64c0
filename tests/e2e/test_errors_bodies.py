"""Invalid or non-object JSON bodies on every writing route are a 400 that changes nothing; over 1 MiB is a 413."""

from __future__ import annotations

import json

import pytest

from tests.e2e.e2e_support import assert_invalid
from tests.e2e.errors_support import OK_400, fill, shape_400, state
from tests.e2e.errors_support import world as world  # a fixture: imported by its name so pytest finds it here

MIB = 1024 * 1024


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
