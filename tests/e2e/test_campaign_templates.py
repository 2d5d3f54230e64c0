"""Message and subject templates: only {first_name}, {last_name} and {restaurant_name}, checked everywhere.

Each refusal table is checked in one loop per (field, way in), comparing the whole table at
once, so a failure shows every row.
"""

from __future__ import annotations

import pytest

from tests.e2e.e2e_support import assert_invalid

FIELDS = ("message_template", "subject")
BAD_TEMPLATES = {
    "attribute access": "Hi {first_name.__class__}",
    "deep attribute access": "{first_name.__class__.__mro__}",
    "index access": "Hi {first_name[0]}",
    "conversion !r": "Hi {first_name!r}",
    "conversion !s": "Hi {first_name!s}",
    "format spec": "Hi {first_name:>10}",
    "nested format spec": "Hi {first_name:{last_name}}",
    "empty positional field": "Hi {}",
    "numbered positional field": "Hi {0}",
    "unknown name": "Hi {email}",
    "unknown name, other case": "Hi {First_Name}",
    "unbalanced open brace": "Hi {first_name",
    "unbalanced close brace": "Hi }",
    "lone open brace": "Hi {",
    "empty": "",
    "blank": "   ",
    "over 2000 characters": "x" * 2001,
    "over 2000 with a placeholder": "{first_name}" + "x" * 1990,
}
NOT_STRINGS = {"null": None, "number": 5, "list": ["Hi"], "object": {"text": "Hi"}}
GOOD = {
    "name": "Hello",
    "segment_type": "inactive_days",
    "segment_value": 30,
    "subject": "News from {restaurant_name}",
    "message_template": "Hi {first_name}",
}


def refusal_table(send, field: str, templates: dict) -> dict:
    """For each template: (status, the error names `field`)."""
    table = {}
    for label, template in templates.items():
        response = send(field, template)
        errors = (response.get_json() or {}).get("errors") or {}
        table[label] = (response.status_code, field in errors)
    return table


@pytest.fixture
def ways_in(admin, make, restaurant):
    """Each way a template reaches the API: create, preview, PUT and PATCH of a draft."""
    draft = make.campaign(restaurant, **GOOD)
    path = f"/api/campaigns/{draft['id']}/"
    body = {"restaurant": restaurant["id"], **GOOD}
    return draft, {
        "create": lambda field, t: admin.post("/api/campaigns/", json={**body, field: t}),
        "preview": lambda field, t: admin.post("/api/campaigns/preview/", json={**body, field: t}),
        "put": lambda field, t: admin.put(path, json={**GOOD, field: t}),
        "patch": lambda field, t: admin.patch(path, json={field: t}),
    }


@pytest.mark.parametrize("way", ["create", "preview", "put", "patch"])
@pytest.mark.parametrize("field", FIELDS)
def test_unsafe_or_malformed_templates_are_400_naming_the_field(admin, ways_in, field, way):
    draft, ways = ways_in

    table = refusal_table(ways[way], field, {**BAD_TEMPLATES, **NOT_STRINGS})

    assert table == {label: (400, True) for label in table}
    # Check nothing was created or changed.
    assert admin.get("/api/campaigns/").get_json()["results"] == [draft]


def test_a_refusal_is_in_the_contracts_shape(admin, restaurant):
    body = assert_invalid(
        admin.post("/api/campaigns/", json={"restaurant": restaurant["id"], **GOOD, "message_template": "{email}"}),
        "message_template",
    )

    assert set(body["errors"]) == {"message_template"}


@pytest.mark.parametrize("field", FIELDS)
def test_every_allowed_placeholder_and_literal_braces_are_accepted(admin, make, restaurant, field):
    template = "{{Hello}} {first_name} {last_name} of {restaurant_name} {{x}}"
    draft = make.campaign(restaurant, **{**GOOD, field: template})
    path = f"/api/campaigns/{draft['id']}/"

    assert draft[field] == template
    assert admin.put(path, json={**GOOD, field: template + "!"}).get_json()[field] == template + "!"
    assert admin.patch(path, json={field: "{{}}"}).get_json()[field] == "{{}}"


@pytest.mark.parametrize("field", FIELDS)
def test_a_template_of_2000_characters_is_accepted(admin, make, restaurant, field):
    template = "{first_name}" + "x" * 1988
    assert len(template) == 2000

    draft = make.campaign(restaurant, **{**GOOD, field: template})

    assert draft[field] == template
    path = f"/api/campaigns/{draft['id']}/"
    assert admin.patch(path, json={field: "y" * 2000}).get_json()[field] == "y" * 2000


def test_literal_braces_render_as_single_braces(make, restaurant, clock):
    make.customer(restaurant, first_name="Ada", last_name="Lovelace")
    clock.advance(days=31)
    campaign = make.campaign(
        restaurant,
        subject="{{{restaurant_name}}}",
        message_template="Use code {{ADA}} at {restaurant_name}, {first_name} {last_name}: {{{first_name}}}}}",
    )

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert [(s["subject"], s["message"]) for s in preview["samples"]] == [
        ("{Pizza Palace}", "Use code {ADA} at Pizza Palace, Ada Lovelace: {Ada}}")
    ]


def test_placeholders_are_filled_once_and_not_reinterpreted(make, restaurant, clock):
    # A customer whose names look like placeholders: their text is data, not a template.
    make.customer(restaurant, first_name="{last_name}", last_name="{0.__class__}")
    clock.advance(days=31)
    campaign = make.campaign(restaurant, message_template="{first_name}|{last_name}|{first_name}")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert [s["message"] for s in preview["samples"]] == ["{last_name}|{0.__class__}|{last_name}"]


def test_missing_names_render_as_empty(make, restaurant, clock):
    make.customer(restaurant)
    clock.advance(days=31)
    campaign = make.campaign(restaurant, message_template="Hi {first_name} {last_name}!")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert [(s["subject"], s["message"]) for s in preview["samples"]] == [("Pizza Palace", "Hi  !")]
