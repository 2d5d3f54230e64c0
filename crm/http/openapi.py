"""The OpenAPI document states the whole contract: every error an operation can answer, with its
JSON body, and `links` from each create to what can be done with what it made (so clients and
tools like schemathesis can follow them)."""

from __future__ import annotations

from http import HTTPStatus

from apispec import BasePlugin
from marshmallow import Schema, fields


class ErrorSchema(Schema):
    """Every error's body: a message, and per field (or `body`, `query`) what is wrong with it."""

    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


_PUBLIC = ("/api/openapi.json", "/api/docs")
# A create, the path parameter naming what it made, and the paths of what can be done with it.
CREATES = {
    ("/api/restaurants/", "post"): ("restaurant_id", "/api/restaurants/{restaurant_id}/"),
    ("/api/customers/", "post"): ("customer_id", "/api/customers/{customer_id}/"),
    ("/api/visits/", "post"): ("visit_id", "/api/visits/{visit_id}/"),
    ("/api/customers/{customer_id}/add_visit/", "post"): ("visit_id", "/api/visits/{visit_id}/"),
    ("/api/campaigns/", "post"): ("campaign_id", "/api/campaigns/{campaign_id}/"),
}


class ContractPlugin(BasePlugin):
    """Adds the error answers every operation can give (flask-smorest's response components,
    whose body is `ErrorSchema`)."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        if not path or path.startswith(_PUBLIC):
            return
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            codes = ["401", "429", "503"]
            if "{" in path:
                codes.append("404")
            if method in ("post", "put", "patch"):
                codes += ["400", "413"]
            if method in ("post", "put", "patch", "delete") and "{" in path:
                codes.append("409")
            if method == "delete" and path.startswith("/api/restaurants/"):
                codes.append("403")
            for code in codes:
                responses.setdefault(code, HTTPStatus(int(code)).name)


def add_links(document: dict) -> dict:
    """Links from each create's 201 to every operation on what it made."""
    paths = document.get("paths", {})
    for (path, method), (parameter, prefix) in CREATES.items():
        created = paths.get(path, {}).get(method, {}).get("responses", {}).get("201")
        if created is None:
            continue
        links = created.setdefault("links", {})
        for target, operations in paths.items():
            if not target.startswith(prefix):
                continue
            for target_method in operations:
                if target_method not in ("get", "put", "patch", "delete", "post"):
                    continue
                name = f"{target_method}_{target.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"
                links[name] = {
                    "operationRef": "#/paths/" + target.replace("~", "~0").replace("/", "~1") + f"/{target_method}",
                    "parameters": {parameter: "$response.body#/id"},
                }
    return document
