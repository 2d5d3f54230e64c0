"""JSON answers encoded by orjson instead of the standard library's encoder.

A page of 50 customers is a list of 50 dicts of 14 values; the standard library's encoder took
0.24-0.34 ms of a page's 4.5 ms (docs/benchmarks.md), orjson a small part of that. The bytes are
the same as Flask's compact answer (key order kept, `,` and `:` without spaces, a final newline)
for what the API sends, with two differences, the same JSON once parsed: text outside ASCII is
written as UTF-8, not as `\\u` escapes, and a number written with an exponent has no `+` or
leading zero in it (`1e-7`, not `1e-07`). Dates and dataclasses go to Flask's own conversions,
as before; what orjson refuses (an integer past 64 bits, a lone surrogate) is encoded by the
standard library, as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE  # as Flask ends an answer
    | orjson.OPT_NON_STR_KEYS  # as the standard library, an integer key becomes a string
    | orjson.OPT_PASSTHROUGH_DATETIME  # to Flask's conversion (an HTTP date), as before
    | orjson.OPT_PASSTHROUGH_DATACLASS  # likewise
)


class JSONAnswers(DefaultJSONProvider):
    """Flask's JSON provider, whose compact answers orjson encodes."""

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)  # indented for reading
        obj = self._prepare_response_obj(args, kwargs)
        options = _OPTIONS | orjson.OPT_SORT_KEYS if self.sort_keys else _OPTIONS
        try:
            body = orjson.dumps(obj, default=self.default, option=options)
        except orjson.JSONEncodeError:
            return super().response(*args, **kwargs)  # encodes it, or raises the same TypeError
        return self._app.response_class(body, mimetype=self.mimetype)
