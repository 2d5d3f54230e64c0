"""Tenancy: a restaurant key sees and touches only its own restaurant's rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.e2e.e2e_support import (
    LISTS,
    IdCall,
    assert_error,
    assert_invalid,
    bring_to,
    call,
    control_of,
    id_calls,
    ids,
    iso,
    queue_outreach,
)

_DELETE_ORDER = {
    "outreach_id": 0,
    "campaign_id": 0,
    "visit_id": 0,
    "segment_id": 0,
    "import_id": 0,
    "customer_id": 1,
    "restaurant_id": 2,
}
CAMPAIGN_LISTS = ("/api/campaigns/", "/api/outreach-events/")


@pytest.fixture
def two_tenants(admin, make, key_of, clock, container):
    """Restaurants A and B, each with a customer, a visit, a draft campaign, an outreach record
    (of a second, running campaign), a saved segment and an import; B's key."""
    world = {}
    for tag in ("a", "b"):
        restaurant = make.restaurant(f"Restaurant {tag.upper()}")
        customer = make.customer(restaurant, f"shared-{tag}@example.com", first_name=f"Guest {tag.upper()}")
        visit = make.visit(customer, 60_000, clock.now - timedelta(days=45))
        campaign = make.campaign(restaurant, name=f"Draft {tag.upper()}")
        running = make.campaign(restaurant, name=f"Running {tag.upper()}")
        (record,) = queue_outreach(make, container, running, [customer])
        rule = {"field": "visit_count", "op": "gte", "value": 1}
        segment = admin.post("/api/segments/", json={"restaurant": restaurant["id"], "name": f"S {tag}", "rule": rule})
        imported = make.upload(restaurant, "customers", f"email\nnew-{tag}@example.com\nnot-an-email\n".encode())
        world[tag] = {
            "import": imported,
            "segment": segment.get_json(),
            "restaurant": restaurant,
            "customer": customer,
            "visit": visit,
            "campaign": campaign,
            "running": running,
            "outreach": {"id": str(record.id)},
        }
    world["key_b"] = key_of(world["b"]["restaurant"], "key-b")
    return world


def snapshot(admin, tenant: dict) -> dict:
    """Everything about a tenant's rows an intrusion could change."""
    campaigns = {
        kind: admin.get(f"/api/campaigns/{tenant[kind]['id']}/").get_json() for kind in ("campaign", "running")
    }
    return {
        "restaurant": admin.get(f"/api/restaurants/{tenant['restaurant']['id']}/").get_json(),
        "customer": admin.get(f"/api/customers/{tenant['customer']['id']}/").get_json(),
        "visit": admin.get(f"/api/visits/{tenant['visit']['id']}/").get_json(),
        "history": admin.get(f"/api/customers/{tenant['customer']['id']}/history/").get_json(),
        "campaigns": campaigns,
        "outreach": admin.get(f"/api/outreach-events/{tenant['outreach']['id']}/").get_json(),
        "events": admin.get(f"/api/campaigns/{tenant['running']['id']}/events/").get_json(),
        "segment": admin.get(f"/api/segments/{tenant['segment']['id']}/").get_json(),
        "import": admin.get(f"/api/imports/{tenant['import']['id']}/").get_json(),
    }


def ids_of(tenant: dict) -> dict[str, str]:
    kinds = ("restaurant", "customer", "visit", "campaign", "outreach", "segment", "import")
    return {kind: tenant[kind]["id"] for kind in kinds}


def ordered(calls: list[IdCall]) -> list[IdCall]:
    """Non-deleting calls first, then deletes of visits, customers, restaurants (in that order);
    an erasure is a delete of the customer (the route's last word)."""

    def deletes(call: IdCall) -> bool:
        return call.method == "DELETE" or call.rule.endswith("/erase/")

    return sorted(calls, key=lambda c: (deletes(c), _DELETE_ORDER[c.arguments[-1]], c.rule.endswith("/erase/")))


def test_every_id_route_answers_404_for_another_restaurants_ids(app, admin, two_tenants):
    calls = id_calls(app)
    assert len({c.rule for c in calls}) >= 13 and len(calls) >= 24, [str(c) for c in calls]
    assert {"campaign_id", "outreach_id"} <= {a for c in calls for a in c.arguments}
    before = snapshot(admin, two_tenants["a"])
    for kind in ("campaign", "running", "outreach"):  # each exists and is A's own
        assert admin.get(_path_of(kind, two_tenants["a"])).status_code == 200

    # Check every method of every route with an id answers 404 to B's key for A's ids.
    answers = {}
    for id_call in ordered(calls):
        response = call(two_tenants["key_b"], id_call, ids_of(two_tenants["a"]))
        answers[str(id_call)] = (response.status_code, (response.get_json() or {}).get("message"))
    assert {name: status for name, (status, _) in answers.items()} == {name: 404 for name in answers}, answers
    assert all(message for _, message in answers.values()), answers

    # Check A's rows are exactly as they were.
    assert snapshot(admin, two_tenants["a"]) == before


def _path_of(kind: str, tenant: dict) -> str:
    if kind == "outreach":
        return f"/api/outreach-events/{tenant['outreach']['id']}/"
    return f"/api/campaigns/{tenant[kind]['id']}/"


# The status a control needs its campaign in (the walk's draft campaign suits the others).
_NEEDS = {"pause": "running", "resume": "paused", "unschedule": "scheduled"}
# What each id route answers a restaurant's key for its own ids: a route added without a line
# here fails the walk below until someone decides what it should answer.
OWN_IDS_ANSWER = {
    "GET /api/restaurants/<uuid:restaurant_id>/": 200,
    "PATCH /api/restaurants/<uuid:restaurant_id>/": 200,
    "PUT /api/restaurants/<uuid:restaurant_id>/": 200,
    "DELETE /api/restaurants/<uuid:restaurant_id>/": 403,  # admin only, even for its own
    "GET /api/customers/<uuid:customer_id>/": 200,
    "PATCH /api/customers/<uuid:customer_id>/": 200,
    "PUT /api/customers/<uuid:customer_id>/": 200,
    "DELETE /api/customers/<uuid:customer_id>/": 204,
    "POST /api/customers/<uuid:customer_id>/add_visit/": 201,
    "GET /api/customers/<uuid:customer_id>/history/": 200,
    "POST /api/customers/<uuid:customer_id>/unsubscribe/": 200,
    "POST /api/customers/<uuid:customer_id>/resubscribe/": 200,
    "GET /api/customers/<uuid:customer_id>/export/": 200,
    "POST /api/customers/<uuid:customer_id>/erase/": 204,
    "GET /api/visits/<uuid:visit_id>/": 200,
    "PATCH /api/visits/<uuid:visit_id>/": 200,
    "PUT /api/visits/<uuid:visit_id>/": 200,
    "DELETE /api/visits/<uuid:visit_id>/": 204,
    "GET /api/campaigns/<uuid:campaign_id>/": 200,
    "PATCH /api/campaigns/<uuid:campaign_id>/": 200,
    "PUT /api/campaigns/<uuid:campaign_id>/": 200,
    "DELETE /api/campaigns/<uuid:campaign_id>/": 204,
    "POST /api/campaigns/<uuid:campaign_id>/run/": 202,
    "POST /api/campaigns/<uuid:campaign_id>/schedule/": 200,
    "POST /api/campaigns/<uuid:campaign_id>/unschedule/": 200,
    "POST /api/campaigns/<uuid:campaign_id>/pause/": 200,
    "POST /api/campaigns/<uuid:campaign_id>/resume/": 200,
    "POST /api/campaigns/<uuid:campaign_id>/cancel/": 200,
    "POST /api/campaigns/<uuid:campaign_id>/retry-failed/": 409,  # a draft: refused, not hidden
    "GET /api/campaigns/<uuid:campaign_id>/preview/": 200,
    "GET /api/campaigns/<uuid:campaign_id>/events/": 200,
    "GET /api/campaigns/<uuid:campaign_id>/events/export.csv": 200,
    "GET /api/outreach-events/<uuid:outreach_id>/": 200,
    "GET /api/segments/<uuid:segment_id>/": 200,
    "PATCH /api/segments/<uuid:segment_id>/": 200,
    "PUT /api/segments/<uuid:segment_id>/": 200,
    "DELETE /api/segments/<uuid:segment_id>/": 204,
    "GET /api/segments/<uuid:segment_id>/customers/": 200,
    "GET /api/imports/<uuid:import_id>/": 200,
    "GET /api/imports/<uuid:import_id>/rejections/": 200,
    "GET /api/imports/<uuid:import_id>/rejections.csv": 200,
}


def test_the_same_calls_work_on_the_own_restaurants_ids(app, make, container, two_tenants):
    # Check the walk's bodies are valid, so the 404s above are about tenancy, not input.
    b = two_tenants["b"]
    answers = {}
    for id_call in ordered(id_calls(app)):
        own = ids_of(b)
        if "campaign_id" in id_call.arguments and id_call.method != "GET":
            # A fresh draft for each call that changes a campaign, in the status its control needs.
            fresh = make.campaign(b["restaurant"], name=f"For {id_call}")
            own["campaign"] = bring_to(make, container, fresh, _NEEDS.get(control_of(id_call), "draft"))["id"]
        response = call(two_tenants["key_b"], id_call, own)
        answers[str(id_call)] = response.status_code
    assert answers == OWN_IDS_ANSWER


def test_as_of_of_another_restaurants_customer_is_404(two_tenants, clock):
    customer = two_tenants["a"]["customer"]
    response = two_tenants["key_b"].get(f"/api/customers/{customer['id']}/", query_string={"as_of": iso(clock.now)})

    assert_error(response, 404)


def test_lists_and_segments_show_only_the_own_restaurant(admin, two_tenants, clock):
    clock.advance(days=31)
    b = two_tenants["b"]
    expected = {
        "/api/restaurants/": [b["restaurant"]["id"]],
        "/api/customers/": [b["customer"]["id"]],
        "/api/visits/": [b["visit"]["id"]],
        "/api/customers/inactive/": [b["customer"]["id"]],
        "/api/customers/high_spenders/": [b["customer"]["id"]],
    }
    assert set(expected) == set(LISTS)

    seen = {path: two_tenants["key_b"].get(path, query_string={}).get_json() for path in LISTS}

    assert {path: (page["count"], ids(page)) for path, page in seen.items()} == {
        path: (1, rows) for path, rows in expected.items()
    }
    # Check the admin sees both restaurants' rows there.
    assert {path: admin.get(path).get_json()["count"] for path in LISTS} == {path: 2 for path in LISTS}


def test_filters_naming_another_restaurant_find_nothing(two_tenants, clock):
    clock.advance(days=31)
    a = two_tenants["a"]
    cases = [
        ("/api/customers/", {"restaurant_id": a["restaurant"]["id"]}),
        ("/api/customers/", {"search": "shared-a"}),
        ("/api/customers/", {"search": "Guest A"}),
        ("/api/visits/", {"customer_id": a["customer"]["id"]}),
        ("/api/customers/inactive/", {"restaurant_id": a["restaurant"]["id"]}),
        ("/api/customers/high_spenders/", {"restaurant_id": a["restaurant"]["id"], "min_spend_cents": 0}),
    ]

    answers = {}
    for path, query in cases:
        response = two_tenants["key_b"].get(path, query_string=query)
        answers[(path, str(query))] = (
            response.status_code,
            response.get_json()["count"],
            response.get_json()["results"],
        )

    assert answers == {case: (200, 0, []) for case in answers}


def test_a_customer_cannot_be_registered_in_another_restaurant(admin, two_tenants):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]

    foreign = key_b.post("/api/customers/", json={"restaurant": a["restaurant"]["id"], "email": "spy@example.com"})
    unknown = key_b.post("/api/customers/", json={"restaurant": str(uuid.uuid4()), "email": "spy@example.com"})

    # Check another restaurant is indistinguishable from no restaurant at all.
    assert_invalid(foreign, "restaurant")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    listed = admin.get("/api/customers/", query_string={"restaurant_id": a["restaurant"]["id"]}).get_json()
    assert ids(listed) == [a["customer"]["id"]]


def test_a_visit_cannot_be_recorded_for_another_restaurants_customer(admin, two_tenants):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]
    before = snapshot(admin, a)

    foreign = key_b.post("/api/visits/", json={"customer": a["customer"]["id"], "spend_cents": 100})
    unknown = key_b.post("/api/visits/", json={"customer": str(uuid.uuid4()), "spend_cents": 100})

    assert_invalid(foreign, "customer")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    assert snapshot(admin, a) == before
    assert admin.get("/api/visits/").get_json()["count"] == 2


def test_an_email_used_in_another_restaurant_does_not_leak(two_tenants):
    key_b = two_tenants["key_b"]

    response = key_b.post("/api/customers/", json={"email": two_tenants["a"]["customer"]["email"]})

    assert response.status_code == 201
    assert response.get_json()["restaurant"] == two_tenants["b"]["restaurant"]["id"]


# -- campaigns and outreach ------------------------------------------------------------------


def test_campaign_lists_show_only_the_own_restaurant(admin, two_tenants):
    b = two_tenants["b"]
    key_b = two_tenants["key_b"]

    campaigns = key_b.get("/api/campaigns/").get_json()
    outreach = key_b.get("/api/outreach-events/").get_json()

    assert sorted(ids(campaigns)) == sorted([b["campaign"]["id"], b["running"]["id"]])
    assert (outreach["count"], ids(outreach)) == (1, [b["outreach"]["id"]])
    # Check the admin sees both restaurants' rows there.
    assert {path: admin.get(path).get_json()["count"] for path in CAMPAIGN_LISTS} == {
        "/api/campaigns/": 4,
        "/api/outreach-events/": 2,
    }


def test_campaign_filters_naming_another_restaurant_find_nothing(two_tenants):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]
    cases = [
        ("/api/campaigns/", {"restaurant_id": a["restaurant"]["id"]}),
        ("/api/outreach-events/", {"campaign_id": a["running"]["id"]}),
        ("/api/outreach-events/", {"campaign_id": a["running"]["id"], "status": "queued"}),
    ]

    answers = {}
    for path, query in cases:
        response = key_b.get(path, query_string=query)
        answers[(path, str(query))] = (
            response.status_code,
            response.get_json()["count"],
            response.get_json()["results"],
        )

    assert answers == {case: (200, 0, []) for case in answers}


@pytest.mark.parametrize("path", ["/api/campaigns/", "/api/campaigns/preview/"])
def test_a_campaign_cannot_name_another_restaurant(admin, two_tenants, path):
    a = two_tenants["a"]
    key_b = two_tenants["key_b"]
    before = snapshot(admin, a)
    body = {
        "name": "Spy",
        "segment_type": "high_spenders",
        "segment_value": 0,
        "message_template": "Hi {first_name}",
    }

    foreign = key_b.post(path, json={**body, "restaurant": a["restaurant"]["id"]})
    unknown = key_b.post(path, json={**body, "restaurant": str(uuid.uuid4())})

    # Check another restaurant is indistinguishable from no restaurant at all.
    assert_invalid(foreign, "restaurant")
    assert (foreign.status_code, foreign.get_json()) == (unknown.status_code, unknown.get_json())
    assert admin.get("/api/campaigns/", query_string={"restaurant_id": a["restaurant"]["id"]}).get_json()["count"] == 2
    assert snapshot(admin, a) == before


def test_a_preview_shows_only_the_own_restaurants_customers(two_tenants):
    key_b = two_tenants["key_b"]
    body = {"name": "All", "segment_type": "high_spenders", "segment_value": 0, "message_template": "{first_name}"}

    preview = key_b.post("/api/campaigns/preview/", json=body).get_json()

    assert preview == {
        "audience": 1,
        "samples": [{"customer": two_tenants["b"]["customer"]["id"], "subject": "Restaurant B", "message": "Guest B"}],
    }
