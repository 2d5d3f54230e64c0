"""Every error becomes JSON `{"message", "errors"?}`; domain errors map to statuses here only."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from crm.adapters.availability import database_unavailable
from crm.write_model.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    ReplayOfDeleted,
    Unavailable,
)

log = logging.getLogger(__name__)

_STATUS = ((InvalidInput, 400), (NotFound, 404), (Conflict, 409), (Unavailable, 503))


def _message(error: DomainError) -> str:
    """The domain's message, in the words of an HTTP client where they differ."""
    if isinstance(error, ReplayOfDeleted):  # only a replayed Idempotency-Key reaches it over HTTP
        return f"this Idempotency-Key created {error.kind} {error.id}, which has since been deleted"
    if isinstance(error, ConcurrencyConflict | Unavailable):
        return f"{error}; retry the request"
    return str(error)


def flatten(messages: object) -> dict[str, list[str]]:
    """webargs' `{"json": {...}, "query": {...}}` as one `{field: [messages]}` map."""
    errors: dict[str, list[str]] = {}
    if not isinstance(messages, dict):
        return {"body": [str(messages)]}
    for location, fields in messages.items():
        if isinstance(fields, list):
            errors.setdefault("body" if location == "json" else location, []).extend(map(str, fields))
            continue
        for field, problems in fields.items():
            name = "body" if field == "_schema" else str(field)
            if isinstance(problems, dict):  # nested or per-item errors
                problems = [f"{key}: {value}" for key, value in problems.items()]
            errors.setdefault(name, []).extend(map(str, problems))
    return errors


def http_error_payload(error: HTTPException) -> tuple[dict, int, dict]:
    data = getattr(error, "data", None) or {}
    payload: dict = {"message": data.get("message") or error.description or error.name}
    if "errors" in data:
        payload["errors"] = data["errors"]
    elif "messages" in data:
        payload["message"] = "Invalid input."
        payload["errors"] = flatten(data["messages"])
    headers = dict(data.get("headers") or {})
    if isinstance(error, RequestRedirect):  # e.g. a missing trailing slash
        payload["message"] = f"This resource lives at {error.new_url}"
        headers["Location"] = error.new_url
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return payload, error.code or 500, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
        payload: dict = {"message": _message(error)}
        if isinstance(error, InvalidInput):
            payload = {"message": "Invalid input.", "errors": {error.field: [error.message]}}
        headers = {"Retry-After": "1"} if status == 503 else {}
        return jsonify(payload), status, headers

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            payload, status, headers = http_error_payload(error)
            return jsonify(payload), status, headers
        if database_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return jsonify({"message": "The database is unavailable; retry the request."}), 503, {"Retry-After": "1"}
        log.exception("unhandled error")
        return jsonify({"message": "Internal server error."}), 500
