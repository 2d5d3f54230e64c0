"""The list envelope `{"count", "next", "previous", "results"}` with absolute page links."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request

from crm.read_model.pages import Page


def _link(page: int, after: str | None = None) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    args.pop("after", None)
    if after is not None:
        args["after"] = [after]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"


def envelope(page: Page) -> dict:
    """`next` carries the page's cursor where the list has one (`after`): following it reads
    on from the last row instead of skipping the rows before; `previous` goes by number."""
    return {
        "count": page.count,
        "next": _link(page.page + 1, page.after) if page.has_next else None,
        "previous": _link(page.page - 1) if page.page > 1 else None,
        "results": page.items,
    }
