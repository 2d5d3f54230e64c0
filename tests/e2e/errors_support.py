"""Helpers shared by the test_errors_* modules: the world fixture, fill, state, and the shape of a 400."""

# The tables are checked in one loop per route (one database setup each, which keeps the tier
# fast); every loop compares the whole table of answers at once, so a failure shows every row.

from __future__ import annotations

from datetime import timedelta

import pytest


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
