"""Answering a command with the state it produced, read back from the read model."""

from __future__ import annotations

from uuid import UUID

STALE_HEADER = "X-Read-Model-Stale"


def written(row: dict | None, id: UUID, status: int = 201):
    """The read-back row; if the read model has not caught up, the id alone and a stale flag."""
    if row is None:
        return {"id": id}, status, {STALE_HEADER: "true"}
    return row, status
