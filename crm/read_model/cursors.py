"""Cursors of lists read by position: where a page starts, after the order values of the last row
of the page before.

Every list read by position orders by one value (a time or an integer) and then by id, so a
cursor is `<value>.<id>` or `<value>.<id>.<count>`: the value as an integer (a time as
microseconds since 1970-01-01 UTC), the id as 32 hex digits, and the count of the walk's first
page, which later pages repeat instead of counting again. Every string of that shape (`PATTERN`)
is a position: a value beyond what a column holds stands before or after all its rows. A cursor
is not a secret and grants nothing: the query it is used with keeps its own filters and scope.

The cursors given out before (base64 of a JSON list) are still read.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from uuid import UUID

from sqlalchemy import DateTime, Integer, Uuid
from sqlalchemy.sql.elements import UnaryExpression

from crm.write_model.errors import InvalidInput

_BODY = r"-?[0-9]{1,19}\.[0-9a-f]{32}(?:\.[0-9]{1,19})?"
PATTERN = f"^{_BODY}$"  # the OpenAPI document's, for `after`
_CURSOR = re.compile(_BODY)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
_LATEST = datetime.max.replace(tzinfo=timezone.utc)
_TIMES = ((_EARLIEST - _EPOCH) // _MICROSECOND, (_LATEST - _EPOCH) // _MICROSECOND)
_BIGINT = 2**63 - 1
_REFUSED = "not a cursor: use the `next` link of the page before"


def encode(values: list, order_by: tuple[UnaryExpression, ...], count: int | None = None) -> str:
    """The cursor of a row whose order values (in `order_by`'s order: a time or an integer,
    then the id) are these; `count`, the list's count when its walk began, rides along."""
    first, id_ = values
    if isinstance(first, datetime):
        moment = first if first.tzinfo else first.replace(tzinfo=timezone.utc)
        first = (moment - _EPOCH) // _MICROSECOND
    parts = [str(int(first)), UUID(str(id_)).hex]
    if count is not None:
        parts.append(str(count))
    return ".".join(parts)


def decode(cursor: str, order_by: tuple[UnaryExpression, ...]) -> tuple[list, int | None]:
    """The order values a cursor holds, typed for `order_by`, and the count it carries (or None)."""
    if _CURSOR.fullmatch(cursor):
        first, id_, *count = cursor.split(".")
        return [_position(order_by[0].element.type, int(first)), UUID(hex=id_)], (
            min(int(count[0]), _BIGINT) if count else None
        )
    return _decode_earlier(cursor, order_by)


def _position(kind, value: int):
    """A cursor's value as a time or an integer a column can be compared with: beyond the range
    of either, the nearest end of it (before or after every row)."""
    if isinstance(kind, DateTime):
        return _EPOCH + max(_TIMES[0], min(value, _TIMES[1])) * _MICROSECOND
    return max(-_BIGINT - 1, min(value, _BIGINT))


def _decode_earlier(cursor: str, order_by: tuple[UnaryExpression, ...]) -> tuple[list, int | None]:
    """A cursor of the earlier form: base64 of the JSON list of the order values as strings."""
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(plain, list) or len(plain) not in (len(order_by), len(order_by) + 1):
            raise ValueError
        count = int(plain.pop()) if len(plain) > len(order_by) and plain[-1].isdigit() else None
        if len(plain) != len(order_by):
            raise ValueError
        return [_typed(term.element.type, value) for term, value in zip(order_by, plain, strict=True)], count
    except (ValueError, TypeError, UnicodeDecodeError, AttributeError):
        raise InvalidInput("after", _REFUSED) from None


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
