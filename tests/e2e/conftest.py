"""Fixtures of the HTTP tier (helpers live in e2e_support.py)."""

from __future__ import annotations

import uuid

import pytest

pytest.register_assert_rewrite("tests.e2e.e2e_support")

from tests.e2e.e2e_support import Make  # noqa: E402


@pytest.fixture
def make(admin) -> Make:
    return Make(admin)


@pytest.fixture
def key_of(key_for):
    """An API client scoped to a restaurant given as the API returned it (a dict)."""

    def make_key(restaurant: dict, name: str | None = None):
        return key_for(uuid.UUID(restaurant["id"]), name)

    return make_key
