"""Bad query parameters (paging, ids, search, days, min_spend_cents) are a 400; values at their limits are not."""

from __future__ import annotations

import pytest

from tests.e2e.e2e_support import LISTS, assert_invalid
from tests.e2e.errors_support import OK_400, shape_400

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
        ("/api/customers/", "restaurant_id", "6f1c2a7e-3b8d-4c55-9a0e-2d4f8b7c1e90-0"),
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
