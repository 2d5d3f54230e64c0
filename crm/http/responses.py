"""Answering a command with the state it produced, read back from the read model."""

from __future__ import annotations

from uuid import UUID

from flask import Flask, jsonify

from crm.http.context import crm

STALE_HEADER = "X-Read-Model-Stale"


def written(row: dict | None, id: UUID, status: int = 201):
    """The read-back row; if the read model has not caught up, the id alone and a stale flag."""
    if row is None:  # a plain response: the resource schema would expect every field
        response = jsonify({"id": str(id)})
        response.status_code = status
        response.headers[STALE_HEADER] = "true"
        return response
    return row, status


def init_app(app: Flask) -> None:
    """Flag every response whose write the read model could not catch up with."""

    @app.before_request
    def _forget_lag() -> None:
        crm().freshness.take_lag_flag()

    @app.after_request
    def _report_lag(response):
        if crm().freshness.take_lag_flag():
            response.headers[STALE_HEADER] = "true"
        return response
