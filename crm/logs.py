"""Logs: one JSON object per line on stderr (`LOG_FORMAT=json`, the default) or plain text.

Each record carries what it happened under, when it is known: the HTTP request's id and actor
(set by the web app for the request's duration), the campaign a task works on. Nothing
personal is logged anywhere: ids, counts and sizes only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_ADDRESS = re.compile(r"<?[^\s<>()'\"=,@]+@[^\s<>()'\",]+>?")
_CONTEXT: dict[str, ContextVar[str | None]] = {
    name: ContextVar(name, default=None) for name in ("request_id", "actor", "campaign_id")
}


def without_addresses(text: str) -> str:
    """`text` with every email address in it (as servers and databases echo them) replaced."""
    return _ADDRESS.sub("<address>", text)


def set_context(**values: str | None) -> None:
    """Mark the records logged from here on (in this thread or task) with these values."""
    for name, value in values.items():
        _CONTEXT[name].set(value)


@contextmanager
def context(**values: str | None) -> Iterator[None]:
    """Mark the records logged inside the block with these values."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


_installed: list = []


def install() -> None:
    """Mark every record with the context as it is made, whichever handler takes it (once per
    process: a record factory around the current one)."""
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def with_context(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        for name, var in _CONTEXT.items():
            value = var.get()
            if value is not None:
                setattr(record, name, value)
        return record

    logging.setLogRecordFactory(with_context)
    _installed.append(with_context)


def configure(level: str, log_format: str = "json") -> None:
    """Send every logger's records to stderr in this format (replacing earlier handlers)."""
    install()
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
