"""Helpers for the dashboard tests: a logged-in browser-like client that carries the CSRF token."""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

OPERATOR_EMAIL = "ops@example.com"
OPERATOR_PASSWORD = "correct horse battery"
LOGIN = "/internal/login/"

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(response) -> str:
    """The CSRF token of the first form on a page."""
    match = _TOKEN.search(response.get_data(as_text=True))
    assert match, "no csrf_token on the page"
    return match.group(1)


def text_of(response) -> str:
    """The page's HTML with entities decoded, for substring checks."""
    return html.unescape(response.get_data(as_text=True))


def redirects_to_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith(LOGIN)


class DashboardClient:
    """The Flask test client as an operator's browser: its session cookie and CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def log_in(self, email: str = OPERATOR_EMAIL, password: str = OPERATOR_PASSWORD, **extra):
        token = csrf_of(self.client.get(LOGIN))
        response = self.client.post(LOGIN, data={"email": email, "password": password, "csrf_token": token, **extra})
        if response.status_code == 302:
            # The login starts a new session: pick up the token that goes with it.
            self.token = csrf_of(self.client.get("/internal/campaigns/"))
        return response

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs):
        body = dict(data or {})
        if csrf:
            body["csrf_token"] = self.token
        return self.client.post(path, data=body, **kwargs)


def campaign_form(restaurant: dict | None = None, **changes) -> dict:
    """A valid body for the campaign form (the restaurant is left out when None)."""
    body = {
        "name": "Win back",
        "segment_type": "inactive_days",
        "segment_value": "30",
        "subject": "{restaurant_name} misses you",
        "message_template": "Hi {first_name}, come back!",
        **changes,
    }
    if restaurant is not None:
        body["restaurant"] = restaurant["id"]
    return body


def actors_of(application, aggregate_id: str) -> list[str]:
    """The actor recorded on each event of an aggregate, in order."""
    return [event.actor for event in application.events.get(uuid.UUID(aggregate_id))]


class _Controls(HTMLParser):
    """Collects form controls and the ids that labels point at."""

    def __init__(self):
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "label" and attributes.get("for"):
            self.labelled.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit", "button"):
            self.controls.append(attributes)


def unlabelled_controls(response) -> list[dict]:
    """Inputs, selects and text areas with neither a <label for=...> nor an aria-label."""
    parser = _Controls()
    parser.feed(response.get_data(as_text=True))
    return [c for c in parser.controls if c.get("id") not in parser.labelled and not c.get("aria-label")]
