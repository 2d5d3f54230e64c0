"""JSON answers encoded by orjson are the bytes Flask's own encoder gave (crm.http.json_answers)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from crm.http.json_answers import JSONAnswers


@dataclasses.dataclass
class Point:
    x: int
    y: int


PAGE = {
    "count": 2,
    "next": "/api/customers/?after=abc",
    "previous": None,
    "results": [
        {
            "id": str(uuid.UUID(int=n)),
            "email": f"c{n}@example.com",
            "total_spend_cents": 123456789 * n,
            "total_spend_dollars": "1234567.89",
            "visit_count": n,
            "percent": 100 / 3,
            "done": n == 1,
            "last_visit_at": "2026-12-07T10:00:00.123456+00:00",
            "tags": [],
        }
        for n in range(2)
    ],
}

SAME_BYTES = [
    PAGE,
    {"message": 'A "quoted" \\ back\tslash, a </script> and a control \x01 character.'},
    {"ok": True, "none": None, "floats": [0.1, 1.5, -2.25, 12345.678, 100 / 3]},
    {1: "an integer key", "uuid": uuid.UUID(int=7), "decimal": Decimal("12.50")},
    {"moment": datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc), "day": date(2026, 12, 7)},
    {"point": Point(1, 2)},
    {"big": 2**70, "lone surrogate": "\ud800"},  # orjson refuses both: the standard library's
    [1, 2, 3],
]


@pytest.fixture
def apps():
    fast, standard = Flask("fast"), Flask("standard")
    fast.json = JSONAnswers(fast)
    standard.json = DefaultJSONProvider(standard)
    for app in (fast, standard):
        app.json.sort_keys = False  # as crm.http.create_app sets it
    return fast, standard


@pytest.mark.parametrize("payload", SAME_BYTES, ids=range(len(SAME_BYTES)))
def test_an_answer_is_the_same_bytes_as_flasks_own(apps, payload):
    fast, standard = apps
    with fast.app_context():
        ours = fast.json.response(payload)
    with standard.app_context():
        theirs = standard.json.response(payload)
    assert ours.get_data() == theirs.get_data()
    assert ours.mimetype == theirs.mimetype == "application/json"


def test_text_outside_ascii_is_utf8_and_the_same_once_parsed(apps):
    fast, standard = apps
    payload = {"name": "Café Zoë 寿司 🍣"}
    with fast.app_context():
        ours = fast.json.response(payload).get_data()
    with standard.app_context():
        theirs = standard.json.response(payload).get_data()
    assert "Café Zoë 寿司 🍣".encode() in ours
    assert json.loads(ours) == json.loads(theirs) == payload


def test_sorted_and_indented_answers_are_flasks_own(apps):
    fast, standard = apps
    for app in (fast, standard):
        app.json.sort_keys = True
    with fast.app_context():
        assert fast.json.response({"b": 1, "a": 2}).get_data() == b'{"a":2,"b":1}\n'
    fast.json.compact = False
    with fast.app_context():
        indented = fast.json.response({"b": 1, "a": 2}).get_data()
    with standard.app_context():
        standard.json.compact = False
        assert indented == standard.json.response({"b": 1, "a": 2}).get_data()
    assert b'\n  "a": 2' in indented


def test_what_neither_can_encode_raises_flasks_error(apps):
    fast, _ = apps
    with fast.app_context(), pytest.raises(TypeError, match="not JSON serializable"):
        fast.json.response({"set": {1, 2}})
