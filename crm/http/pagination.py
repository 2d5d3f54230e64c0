"""The list envelope `{"count", "next", "previous", "results"}` with absolute page links."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request

from crm.read_model.queries import Page


def _link(page: int) -> str:
    args = request.args.to_dict(flat=False)
    args["page"] = [str(page)]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"


def envelope(page: Page) -> dict:
    return {
        "count": page.count,
        "next": _link(page.page + 1) if page.has_next else None,
        "previous": _link(page.page - 1) if page.page > 1 else None,
        "results": page.items,
    }
