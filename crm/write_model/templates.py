"""Message templates: placeholders from an allow-list only; rendering never raises."""

from __future__ import annotations

from string import Formatter

from crm.write_model.errors import InvalidInput

PLACEHOLDERS = ("first_name", "last_name", "restaurant_name", "unsubscribe_url")
UNSUBSCRIBE_FOOTER = "To stop receiving these messages, unsubscribe: {unsubscribe_url}"
MAX_TEMPLATE_LENGTH = 2000
_FORMATTER = Formatter()


def validate(template: object, field: str) -> str:
    """The template, if every `{placeholder}` is a plain allowed name; else InvalidInput."""
    if not isinstance(template, str):
        raise InvalidInput(field, "must be a string")
    if not template.strip():
        raise InvalidInput(field, "must not be empty")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise InvalidInput(field, f"must be at most {MAX_TEMPLATE_LENGTH} characters")
    if "\x00" in template:
        raise InvalidInput(field, "must not contain NUL characters")
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        raise InvalidInput(field, "has an unbalanced '{' or '}' (write '{{' or '}}' for a literal brace)") from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name == "" or name.isdigit():
            raise InvalidInput(field, f"positional placeholders are not allowed; use one of {allowed}")
        if conversion is not None or spec:
            raise InvalidInput(field, f"placeholder {{{name}}} may not have a conversion or format spec")
        if name not in PLACEHOLDERS:
            raise InvalidInput(field, f"unknown placeholder {{{name}}}; allowed: {allowed}")
    return template


def render(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders; a template that somehow fails to parse is sent as written."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        return template
    out = []
    for literal, name, _, _ in parts:
        out.append(literal)
        if name is not None:
            out.append(_text(values.get(name)))
    return "".join(out)


def render_message(template: str, values: dict[str, str], unsubscribe_url: str) -> str:
    """A message body: the template filled, with the unsubscribe link where `{unsubscribe_url}`
    puts it, or else in a footer line appended to the body."""
    values = {**values, "unsubscribe_url": unsubscribe_url}
    body = render(template, values)
    if not places_unsubscribe_url(template):
        body = f"{body}\n\n{render(UNSUBSCRIBE_FOOTER, values)}"
    return body


def places_unsubscribe_url(template: str) -> bool:
    try:
        return any(name == "unsubscribe_url" for _, name, _, _ in _FORMATTER.parse(template))
    except ValueError:
        return False


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        return str(value)
    except Exception:  # a value that cannot be shown renders as nothing rather than failing a send
        return ""
