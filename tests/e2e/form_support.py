"""Reading a dashboard form's controls and error texts as a screen reader would find them."""

from __future__ import annotations

from html.parser import HTMLParser


class _Form(HTMLParser):
    """The attributes of each named control, and the text of each element with an `-error` id."""

    def __init__(self):
        super().__init__()
        self.controls: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self._error: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: "" if value is None else value for name, value in attrs}
        if tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit"):
            self.controls[attributes["name"]] = attributes
        if attributes.get("id", "").endswith("-error"):
            self._error = attributes["id"]
            self.errors[self._error] = ""

    def handle_data(self, data):
        if self._error:
            self.errors[self._error] += data

    def handle_endtag(self, tag):
        self._error = None


def _parsed(response) -> _Form:
    form = _Form()
    form.feed(response.get_data(as_text=True))
    return form


def controls_of(response) -> dict[str, dict]:
    """Each visible control's attributes by name (a boolean attribute's value is "")."""
    return _parsed(response).controls


def error_texts(response) -> dict[str, str]:
    """The text of every element whose id ends in `-error`, by id."""
    return _parsed(response).errors
