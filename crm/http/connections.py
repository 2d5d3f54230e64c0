"""Keep-alive that survives an error, a clean close when it cannot, and the longest URI.

An answer given without reading the request body (an error, a route that takes none) would leave
the body's bytes on the connection. gunicorn's threaded workers drain at most 64 KiB of them
before the next request and otherwise drop the connection, after an answer that said
`keep-alive`: a pooled client then failed its next request with "server disconnected". So:

- a body of up to `drain_limit(max_body)` bytes is read (and dropped) before the answer goes out;
- on gunicorn, a longer one, or one of unknown length, closes the connection after the answer,
  which says `Connection: close`: decided before the app runs (`close_when_body_too_long`, its
  `pre_request` hook), since a WSGI app may not set hop-by-hop headers (PEP 3333).

waitress (the server on Windows) reads every body whole before the app runs: nothing is left.

A URI (path and query string, as sent) over `MAX_URI_BYTES` is answered 414, as JSON like every
error, before anything else looks at the request. The WSGI server's own limit on the request
line lies above it (crm.serve), so that this is the answer a client sees.

A body over `MAX_CONTENT_LENGTH` is answered 413, except on the views marked `takes_uploads`
(a CSV file to import), whose limit is `UPLOAD_MAX_CONTENT_LENGTH`: set before any hook reads
the body (the dashboard's CSRF check reads its form). Draining still goes by the common limit:
an upload refused unread closes its connection rather than be read whole.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestURITooLarge

_CHUNK = 64 * 1024
MAX_URI_BYTES = 4096


def drain_limit(max_body_bytes: int) -> int:
    """The longest body read to keep a connection alive: a few times the largest accepted."""
    return 4 * max_body_bytes


def _chunked(transfer_encoding: str | None) -> bool:
    return "chunked" in (transfer_encoding or "").lower()


def close_when_body_too_long(max_body_bytes: int):
    """A gunicorn `pre_request` hook: connections whose request body will not be drained close
    after the answer, and the answer says so."""
    limit = drain_limit(max_body_bytes)

    def pre_request(worker, req) -> None:
        headers = dict(req.headers)
        try:
            length = int(headers.get("CONTENT-LENGTH") or 0)
        except ValueError:
            length = limit + 1
        if length > limit or _chunked(headers.get("TRANSFER-ENCODING")):
            req.must_close = True

    return pre_request


def finish_request_body(response: Response) -> Response:
    """Read what is left of a request body the app did not read (up to `drain_limit`)."""
    length = request.content_length
    if not length or length > drain_limit(current_app.config["MAX_CONTENT_LENGTH"]):
        return response  # nothing to read, or the server closes the connection after the answer
    try:
        # The raw input, bounded by the content length by the server (werkzeug's stream would
        # refuse a body over MAX_CONTENT_LENGTH, which is what a 413 is about).
        stream = request.environ["wsgi.input"]
        left = length - _already_read()
        while left > 0:
            data = stream.read(min(_CHUNK, left))
            if not data:
                break
            left -= len(data)
    except OSError:  # the client went away: the server closes the connection
        pass
    return response


def _already_read() -> int:
    """How much of the body the app read (through werkzeug's bounded stream), if any."""
    stream = request.__dict__.get("stream")  # a cached property: there once the app touched it
    return stream.tell() if stream is not None else 0


def refuse_long_uri() -> None:
    environ = request.environ
    uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    length = len(uri) if uri is not None else len(environ.get("PATH_INFO", "")) + len(request.query_string) + 1
    if length > MAX_URI_BYTES:
        raise RequestURITooLarge(f"The URI (path and query string) is longer than {MAX_URI_BYTES} bytes.")


def takes_uploads(view: Callable) -> Callable:
    """Mark a view (a function, or a MethodView class) whose request body may be as long as
    `UPLOAD_MAX_CONTENT_LENGTH`."""
    view.takes_uploads = True
    return view


def allow_uploads() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(getattr(view, "view_class", view), "takes_uploads", False):
        request.max_content_length = current_app.config["UPLOAD_MAX_CONTENT_LENGTH"]


def init_app(app: Flask) -> None:
    # First of all the checks before a view (authentication and rate limits come before it).
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_long_uri)
    app.before_request_funcs[None].insert(1, allow_uploads)
    app.after_request(finish_request_body)
