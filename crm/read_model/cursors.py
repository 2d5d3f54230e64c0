"""Cursors of lists read by position: the order values of a page's last row, as an opaque string.

A cursor is not a secret and grants nothing: it only says where a page starts, and the query
it is used with keeps its own filters and scope. A string that is not a cursor of the list's
order is refused (`InvalidInput` on `after`).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from uuid import UUID

from sqlalchemy import DateTime, Integer, Uuid
from sqlalchemy.sql.elements import UnaryExpression

from crm.write_model.errors import InvalidInput


def encode(values: list, order_by: tuple[UnaryExpression, ...], count: int | None = None) -> str:
    """The cursor of a row whose order values (in `order_by`'s order) are these; `count`, the
    list's count when its walk began, rides along so that later pages need not count again."""
    plain = [value.isoformat() if isinstance(value, datetime) else str(value) for value in values]
    if count is not None:
        plain.append(str(count))
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, order_by: tuple[UnaryExpression, ...]) -> tuple[list, int | None]:
    """The order values a cursor of this order holds, and the count it carries (or None)."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(plain, list) or len(plain) not in (len(order_by), len(order_by) + 1):
            raise ValueError
        count = int(plain.pop()) if len(plain) > len(order_by) and plain[-1].isdigit() else None
        if len(plain) != len(order_by):
            raise ValueError
        return [_typed(term.element.type, value) for term, value in zip(order_by, plain, strict=True)], count
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError):
        raise InvalidInput("after", "not a cursor of this list: use the `next` link of the page before") from None


def _typed(kind, value):
    if not isinstance(value, str):
        raise ValueError
    if isinstance(kind, DateTime):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment.astimezone(timezone.utc)
    if isinstance(kind, Uuid):
        return UUID(value)
    if isinstance(kind, Integer):  # BigInteger too
        return int(value)
    raise ValueError
