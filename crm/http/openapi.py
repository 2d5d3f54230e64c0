"""The OpenAPI document states the whole contract: what each operation accepts (rules between a
body's fields as `anyOf`, the read-only fields a client may echo back), every error it can
answer with its JSON body, and `links` from each create (and each list) to what can be done with
what it holds, so that clients and tools like schemathesis can follow them."""

from __future__ import annotations

from copy import deepcopy
from http import HTTPStatus

from apispec import BasePlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import Schema, fields

from crm.http.context import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY


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
    ("/api/segments/", "post"): ("segment_id", "/api/segments/{segment_id}/"),
}
# An upload answered 202 with what it started (no Idempotency-Key: the same file is the same import).
ACCEPTED = {("/api/imports/", "post"): ("import_id", "/api/imports/{import_id}/")}
# A list, and the path parameter of the operations its first row's id can be given to. (No
# list links to customers or restaurants: a fuzzing run must not delete the ones it is given.)
LISTS = {
    ("/api/outreach-events/", "get"): ("outreach_id", "/api/outreach-events/{outreach_id}/"),
    ("/api/campaigns/{campaign_id}/events/", "get"): ("outreach_id", "/api/outreach-events/{outreach_id}/"),
    ("/api/imports/", "get"): ("import_id", "/api/imports/{import_id}/"),
}
# Operations whose query names a resource that must exist (else 404, as in a path).
NAMED_IN_QUERY = {("/api/customers/export.csv", "get")}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Makes a retry of this create safe: the same key (per API key and kind of resource) "
    "answers the resource it created, and records nothing (docs/api.md).",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
}


def error_codes(path: str, method: str, operation: dict) -> list[str]:
    """The errors an operation can answer besides its own success."""
    codes = ["401", "414", "429", "503"]
    if "{" in path or (path, method) in NAMED_IN_QUERY:
        codes.append("404")
    takes_query = any(parameter.get("in") == "query" for parameter in operation.get("parameters", []))
    if "requestBody" in operation:
        codes += ["400", "413"]
    elif takes_query or (path, method) in CREATES:  # a create's Idempotency-Key
        codes.append("400")
    if method in ("post", "put", "patch", "delete") and not path.endswith(("/preview/", "/count/")):
        codes.append("409")  # the state does not allow it, a duplicate, or a replay of a deleted resource
    if path.startswith("/api/restaurants/") and (method == "delete" or (method == "post" and "{" not in path)):
        codes.append("403")  # an admin action
    return codes


class ContractPlugin(BasePlugin):
    """Adds to each input schema its `rules` and the read-only fields it ignores, and to each
    operation the error answers (flask-smorest's response components, whose body is
    `ErrorSchema`) and a create's `Idempotency-Key`; query parameters are never null."""

    def schema_helper(self, name, definition, **kwargs):
        schema = kwargs.get("schema")
        if schema is None:
            return None
        schema = resolve_schema_cls(schema)
        extra = deepcopy(getattr(schema, "rules", None) or {})
        echoed = {"readOnly": True, "description": "Read-only: ignored when sent back."}
        properties = {field: dict(echoed) for field in getattr(schema, "read_only_fields", ())}
        for field, property_ in definition.get("properties", {}).items():
            properties[field] = property_
            if not property_.get("nullable"):
                _without_null_default(property_)  # left out, it is null inside only
        if properties:
            extra["properties"] = properties
        return extra

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        if not path or path.startswith(_PUBLIC):
            return
        for method, operation in (operations or {}).items():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _not_null(parameter.get("schema", {}))
            if (path, method) in CREATES:
                operation.setdefault("parameters", []).append(deepcopy(IDEMPOTENCY_KEY))
            responses = operation.setdefault("responses", {})
            for code in error_codes(path, method, operation):
                responses.setdefault(code, HTTPStatus(int(code)).name)


def _not_null(schema: dict) -> None:
    """A query parameter is absent or a string: its default, if any, is what absence means."""
    schema.pop("nullable", None)
    _without_null_default(schema)


def _without_null_default(schema: dict) -> None:
    if "default" in schema and schema["default"] is None:
        del schema["default"]


def _operation_ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + f"/{method}"


def _link_name(path: str, method: str) -> str:
    return f"{method}_{path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}"


def add_links(document: dict) -> dict:
    """Links from each create's 201 (or an upload's 202) to every operation on what it made, and
    from each list's 200 to the operations on its first row."""
    paths = document.get("paths", {})
    for sources, status, expression in (
        (CREATES, "201", "$response.body#/id"),
        (ACCEPTED, "202", "$response.body#/id"),
        (LISTS, "200", "$response.body#/results/0/id"),
    ):
        for (path, method), (parameter, prefix) in sources.items():
            answer = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
            if answer is None:
                continue
            links = answer.setdefault("links", {})
            for target, operations in paths.items():
                if not target.startswith(prefix):
                    continue
                for target_method in operations:
                    if target_method in ("get", "put", "patch", "delete", "post"):
                        links[_link_name(target, target_method)] = {
                            "operationRef": _operation_ref(target, target_method),
                            "parameters": {parameter: expression},
                        }
    return document
