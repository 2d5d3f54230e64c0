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
