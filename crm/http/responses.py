"""Answering a command with the state it produced, read back from the read model.

Read-your-writes is asked for here, explicitly: after the command (outside its locks), the
read side is brought up to the command's last event for the projections its events concern,
then the row is read back. If the read side did not get there in time, the command still
stands and the response says so (`X-Read-Model-Stale: true`).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from flask import jsonify

from crm.http.context import crm
from crm.write_model.commands import Recorded

STALE_HEADER = "X-Read-Model-Stale"
STALE = {STALE_HEADER: "true"}


def caught_up(recorded: Recorded) -> bool:
    """Wait until the projections the command changed include it; False if they did not in time."""
    read_side = crm().read_side
    return read_side.wait_for(recorded.position, read_side.concerned(recorded.topics))


def written(recorded: Recorded, read: Callable[[UUID], dict | None], status: int = 201, headers: dict | None = None):
    """The row `read` finds for the command's id once the read side includes the command (with
    `headers`, such as a Location).

    If it is not there yet, the id alone and a stale flag."""
    fresh = caught_up(recorded)
    row = read(recorded.id)
    headers = dict(headers or {})
    if row is None:  # a plain response: the resource schema would expect every field
        response = jsonify({"id": str(recorded.id)})
        response.status_code = status
        response.headers.update({**headers, **STALE})
        return response
    return (row, status, headers if fresh else {**headers, **STALE})


def done(recorded: Recorded):
    """An empty 204 once the read side includes the command (a delete is gone from lists)."""
    return (None, 204) if caught_up(recorded) else (None, 204, STALE)
