"""Message templates: only allowed placeholders pass validation; rendering never raises."""

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from crm.write_model import templates
from crm.write_model.errors import InvalidInput


@pytest.mark.parametrize(
    "template",
    [
        "Come back soon!",
        "Hi {first_name}",
        "Dear {last_name}",
        "News from {restaurant_name}",
        "{first_name} {last_name} at {restaurant_name}",
        "Use {{braces}} literally",
        "{{first_name}} is not a placeholder",
        "}} and {{",
        "x",
        "x" * 2000,
        "Ünïcødé ☕ {first_name}",
    ],
)
def test_validate_accepts_plain_text_allowed_placeholders_and_literal_braces(template):
    assert templates.validate(template, "message_template") == template


@pytest.mark.parametrize("template", [None, 42, b"Hi", ["Hi"], {"Hi": 1}])
def test_validate_rejects_non_strings(template):
    with pytest.raises(InvalidInput) as error:
        templates.validate(template, "message_template")
    assert error.value.field == "message_template"


@pytest.mark.parametrize(
    "template",
    [
        "",
        "   ",
        "\n\t ",
        "x" * 2001,
        "Hi\x00there",
        "\x00",
        "Hi {first_name",
        "Hi }",
        "{",
        "}",
        "Hi {}",
        "Hi {0}",
        "Hi {1}",
        "{first_name.upper}",
        "{first_name.__class__}",
        "{first_name[0]}",
        "{first_name!r}",
        "{first_name!s}",
        "{first_name:>10}",
        "{first_name:{last_name}}",
        "{email}",
        "{ first_name }",
        "{FIRST_NAME}",
    ],
)
@pytest.mark.parametrize("field", ["subject", "message_template"])
def test_validate_rejects_bad_templates_naming_the_field(template, field):
    with pytest.raises(InvalidInput) as error:
        templates.validate(template, field)
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")


def test_validate_error_for_an_unknown_placeholder_lists_the_allowed_ones():
    with pytest.raises(InvalidInput) as error:
        templates.validate("Hi {email}", "message_template")
    assert "{email}" in error.value.message
    for name in templates.PLACEHOLDERS:
        assert "{" + name + "}" in error.value.message


VALUES = {"first_name": "Ann", "last_name": "Lee", "restaurant_name": "Pizza Palace"}


@pytest.mark.parametrize(
    "template, expected",
    [
        ("Hi {first_name} {last_name}", "Hi Ann Lee"),
        ("{restaurant_name}", "Pizza Palace"),
        ("{first_name}{first_name}", "AnnAnn"),
        ("No placeholders", "No placeholders"),
        ("Use {{braces}} for {first_name}", "Use {braces} for Ann"),
        ("}} {{", "} {"),
    ],
)
def test_render_substitutes_the_values(template, expected):
    assert templates.render(template, VALUES) == expected


def test_render_leaves_missing_or_none_values_empty():
    assert templates.render("Hi {first_name} {last_name}!", {"first_name": None}) == "Hi  !"
    assert templates.render("Hi {first_name}!", {}) == "Hi !"


@pytest.mark.parametrize(
    "template", ["Hi {first_name", "Hi }", "{", "}", "{first_name}}", "{{{", "{first_name!", "{first_name:", "{a[0}"]
)
def test_render_returns_a_template_that_does_not_parse_as_written(template):
    assert templates.render(template, VALUES) == template


@pytest.mark.parametrize(
    "template, expected",
    [
        ("{first_name.__class__}", ""),
        ("{first_name[0]}", ""),
        ("{first_name!r}", "Ann"),
        ("{first_name!x}", "Ann"),
        ("{0:{1:{2}}}", ""),
        ("{first_name:>10}", "Ann"),
        ("{}", ""),
        ("{0}", ""),
        ("{email}", ""),
    ],
)
def test_render_never_evaluates_attributes_indexes_or_format_specs(template, expected):
    assert templates.render(template, VALUES) == expected


@pytest.mark.parametrize(
    "value",
    [42, 3.5, Decimal("1.10"), uuid4(), ["Ann"], {"a": 1}, b"Ann", datetime(2026, 1, 1, tzinfo=timezone.utc), object()],
)
def test_render_never_raises_for_values_of_odd_types(value):
    rendered = templates.render("Hi {first_name}", {"first_name": value})
    assert rendered == f"Hi {value}"
