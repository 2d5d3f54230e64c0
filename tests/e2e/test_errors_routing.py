"""Unknown ids, ids of another kind and unknown paths are a 404; a wrong method is a 405 with Allow."""

from __future__ import annotations

import uuid

from tests.e2e.e2e_support import ID_KINDS, call, id_calls
from tests.e2e.errors_support import fill, state
from tests.e2e.errors_support import world as world  # a fixture: imported by its name so pytest finds it here

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
