"""The OpenAPI document and the interactive docs: public, complete, and served without a CDN."""

from __future__ import annotations

import re

import pytest

_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def api_routes(app) -> dict[str, set[str]]:
    """Every /api/ route of the app but the docs themselves, in OpenAPI path syntax, with its methods."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith(("/api/docs", "/api/openapi.json")):
            continue
        path = _ARGUMENT.sub(lambda m: "{" + m.group(1) + "}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return routes


@pytest.mark.parametrize("authorization", [None, "Bearer crm_not-a-real-key"])
def test_openapi_document_is_public(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/api/openapi.json", headers=headers)

    assert response.status_code == 200
    assert response.is_json
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]


def test_openapi_documents_every_route_and_method(app, client):
    spec = client.get("/api/openapi.json").get_json()
    routes = api_routes(app)
    assert len(routes) >= 10, routes

    documented = {path: set(item) - {"parameters", "summary", "description"} for path, item in spec["paths"].items()}

    assert {path: documented.get(path) for path in routes} == routes


def test_openapi_documents_bearer_keys_and_400s(client):
    spec = client.get("/api/openapi.json").get_json()

    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"bearerAuth": []} in spec["security"]
    # Check every operation that takes a body or query parameters documents its 400 (never a 422).
    missing, unprocessable = [], []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            takes_input = "requestBody" in operation or any(
                p.get("in") == "query" for p in operation.get("parameters", [])
            )
            if takes_input and "400" not in operation["responses"]:
                missing.append(f"{method.upper()} {path}")
            if "422" in operation["responses"]:
                unprocessable.append(f"{method.upper()} {path}")
    assert (missing, unprocessable) == ([], [])


@pytest.mark.parametrize("authorization", [None, "Bearer crm_not-a-real-key"])
def test_interactive_docs_are_public_and_load_only_local_assets(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/api/docs", headers=headers)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assets = _ASSET.findall(page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
    # Check nothing comes from another host, and the page points at our OpenAPI document.
    assert [a for a in assets if not a.startswith("/api/docs/")] == []
    assert not re.search(r"""(?:src|href|url)\s*[=:]\s*["'](?:https?:)?//""", page)
    assert "/api/openapi.json" in page
    # Check every asset is served here, without a key.
    for asset in assets:
        served = client.get(asset, headers=headers)
        assert served.status_code == 200, asset
        assert len(served.get_data()) > 1000, asset
        expected = "javascript" if asset.endswith(".js") else "css"
        assert expected in served.mimetype, (asset, served.mimetype)


def test_an_unknown_asset_is_404_not_401(client):
    assert client.get("/api/docs/assets/no-such-file.js").status_code == 404


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def test_the_openapi_document_states_each_operations_errors_headers_and_links(client):
    spec = client.get("/api/openapi.json").get_json()
    codes = {f"{m.upper()} {p}": set(o["responses"]) for p, m, o in operations(spec)}
    creates = ["POST /api/restaurants/", "POST /api/customers/", "POST /api/visits/", "POST /api/campaigns/"]
    creates.append("POST /api/customers/{customer_id}/add_visit/")

    # Check the errors every operation can answer, and those of admin actions and creates.
    assert all({"401", "414", "429", "503", "default"} <= found for found in codes.values()), codes
    assert {"403", "409"} <= codes["POST /api/restaurants/"] and "403" in codes[
        "DELETE /api/restaurants/{restaurant_id}/"
    ]
    # Check each create takes an Idempotency-Key of the form the server accepts, and links on.
    for create in creates:
        method, path = create.split(" ")
        operation = spec["paths"][path][method.lower()]
        headers = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["maxLength"] == 200 and "pattern" in headers["Idempotency-Key"], create
        assert {"400", "409"} <= codes[create]
        assert operation["responses"]["201"]["links"], create
    # Check the lists of outreach link to their records.
    for path in ("/api/outreach-events/", "/api/campaigns/{campaign_id}/events/"):
        links = spec["paths"][path]["get"]["responses"]["200"]["links"]
        assert links["get_api_outreach-events_outreach_id"]["parameters"] == {
            "outreach_id": "$response.body#/results/0/id"
        }


def test_the_openapi_document_states_query_parameters_and_echoed_fields_as_the_server_reads_them(client):
    spec = client.get("/api/openapi.json").get_json()

    # Check no query parameter is said to be nullable (a query string holds no null).
    nullable = [
        (path, p["name"])
        for path, _, operation in operations(spec)
        for p in operation.get("parameters", [])
        if p["in"] == "query"
        and (p["schema"].get("nullable") or "default" in p["schema"] and p["schema"]["default"] is None)
    ]
    assert nullable == []
    # Check the read-only fields a client may send back (ignored) are in the request schemas.
    update = spec["components"]["schemas"]["CampaignUpdate"]["properties"]
    assert update["stats"] == {"readOnly": True, "description": "Read-only: ignored when sent back."}
    assert "status" not in update  # refused, not ignored
    restaurant = spec["components"]["schemas"]["CustomerCreate"]["properties"]["restaurant"]
    assert "nullable" not in restaurant and "default" not in restaurant  # left out, or a restaurant's id
