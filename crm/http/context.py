"""What a view needs from the request context: the process's container and the caller."""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from flask import current_app, g, request
from flask_smorest import abort

from crm.adapters.api_keys import Principal
from crm.bootstrap import Container
from crm.write_model.errors import InvalidInput

MAX_IDEMPOTENCY_KEY = 200
# Visible ASCII, spaces inside (HTTP drops them around a header's value): the OpenAPI document's.
IDEMPOTENCY_KEY_PATTERN = r"^[!-~](?:[ -~]*[!-~])?$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def crm() -> Container:
    return current_app.extensions["crm"]


def principal() -> Principal:
    return g.principal


def scope() -> UUID | None:
    """The caller's restaurant, or None for an admin key."""
    return g.principal.restaurant_id


def restaurant_of(body: dict) -> UUID:
    """The restaurant a create is for: the body's `restaurant` (taken out of it), else the key's own."""
    restaurant_id = body.pop("restaurant", None) or scope()
    if restaurant_id is None:
        raise InvalidInput("restaurant", "Missing data for required field.")
    return restaurant_id


def actor() -> str:
    return g.principal.name


def require_admin(restaurant_id: UUID | None = None) -> None:
    """403 for a restaurant key, but 404 when it names another restaurant (which it cannot see)."""
    if g.principal.is_admin:
        return
    if restaurant_id is not None and restaurant_id != g.principal.restaurant_id:
        abort(404, message="Restaurant not found.")
    abort(403, message="This action needs an admin API key.")


def idempotent_id(kind: str) -> UUID | None:
    """The id the `Idempotency-Key` header pins for this caller and kind of resource, if any."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY or not _IDEMPOTENCY_KEY.fullmatch(key):
        abort(
            400,
            message="Invalid input.",
            errors={
                "Idempotency-Key": [f"must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters (spaces inside)"]
            },
        )
    return uuid5(NAMESPACE_URL, f"crm:idempotency:{g.principal.name}:{kind}:{key}")
