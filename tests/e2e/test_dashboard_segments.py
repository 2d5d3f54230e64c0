"""Dashboard segment pages: the list with each rule in words, the builder's form (create, edit,
refusals named in words), delete with its question, the live count endpoint and its protections."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.dashboard_support import (
    OPERATOR_EMAIL,
    actors_of,
    campaign_form,
    redirects_to_login,
    text_of,
    unlabelled_controls,
)
from tests.e2e.e2e_support import assert_created

ACTOR = f"operator:{OPERATOR_EMAIL}"
NEW = "/internal/segments/new/"
LIST = "/internal/segments/"
COUNT = "/internal/segments/count.json"
BIG_SPENDERS = {"all": [{"field": "total_spend_cents", "op": "gte", "value": 5000}]}
REGULARS = {
    "any": [
        {"field": "visit_count", "op": "gte", "value": 2},
        {
            "all": [
                {"field": "last_visit_at", "op": "within_days", "value": 30},
                {"field": "email_consent", "op": "eq", "value": "subscribed"},
            ]
        },
    ]
}


@pytest.fixture
def guests(make, restaurant):
    """Ann spent $60.00 in two visits, Bob $10.00 in one; Cy, at another restaurant, $90.00."""
    ann = make.customer(restaurant, email="ann@example.com", first_name="Ann", last_name="Lee")
    bob = make.customer(restaurant, email="bob@example.com", first_name="Bob")
    make.visit(ann, 4000)
    make.visit(ann, 2000)
    make.visit(bob, 1000)
    other = make.restaurant("Sushi Bar")
    make.visit(make.customer(other, email="cy@example.com", first_name="Cy"), 9000)
    return {"ann": ann, "bob": bob, "other": other}


def saved(admin, restaurant: dict, name: str, rule: dict) -> dict:
    return assert_created(
        admin.post("/api/segments/", json={"restaurant": restaurant["id"], "name": name, "rule": rule})
    )


def listed(page: str) -> dict[str, str]:
    """Each listed segment's name and its rule in words."""
    rows = re.findall(
        r'<a href="/internal/segments/[0-9a-f-]+/edit/">([^<]+)</a>.*?data-field="rule">([^<]*)<', page, re.S
    )
    return dict(rows)


def segment_form(restaurant: dict | None, name: str = "Big spenders", rule: object = BIG_SPENDERS, **extra) -> dict:
    body = {"name": name, "rule": rule if isinstance(rule, str) else json.dumps(rule), **extra}
    if restaurant is not None:
        body["restaurant"] = restaurant["id"]
    return body


def count(dash, body: object, csrf: bool = True):
    headers = {"X-CSRFToken": dash.token} if csrf else {}
    return dash.client.post(COUNT, json=body, headers=headers)


def test_the_pages_need_a_login(visitor, restaurant):
    assert redirects_to_login(visitor.get(LIST))
    assert redirects_to_login(visitor.get(NEW))
    answer = visitor.client.post(COUNT, json={"restaurant": restaurant["id"], "rule": BIG_SPENDERS})
    assert answer.status_code == 401 and answer.get_json() == {"message": "Log in to the dashboard first."}


def test_the_list_words_each_rule_and_filters_by_restaurant(dash, admin, make, restaurant, guests):
    spring = make.campaign(restaurant, name="Spring menu")
    saved(admin, restaurant, "Big spenders", BIG_SPENDERS)
    saved(admin, restaurant, "Regulars", REGULARS)
    saved(
        admin,
        guests["other"],
        "Not reached by spring",
        {"all": [{"field": "received_campaign", "op": "eq", "value": False, "campaign": spring["id"]}]},
    )

    page = text_of(dash.get(LIST))
    assert listed(page) == {
        "Big spenders": "Total spend at least $50.00",
        "Regulars": "Number of visits at least 2 or (last visit within the last 30 days and email consent: subscribed)",
        "Not reached by spring": "Did not receive “Spring menu”",
    }
    assert "3 segments" in page and re.search(r'aria-current="page"\s+href="/internal/segments/">Segments<', page)
    only_sushi = text_of(dash.get(LIST, query_string={"restaurant": guests["other"]["id"]}))
    assert list(listed(only_sushi)) == ["Not reached by spring"]
    assert "No saved segment for this restaurant yet." in text_of(
        dash.get(LIST, query_string={"restaurant": make.restaurant("Empty")["id"]})
    )


def test_creating_a_segment_records_the_operator(dash, make, container, restaurant, guests):
    page = dash.get(NEW)
    assert page.status_code == 200 and unlabelled_controls(page) == []
    # Check the builder's catalogue offers each field with only its own comparisons.
    catalogue = json.loads(re.search(r'id="segment-catalogue">([^<]+)<', page.get_data(as_text=True))[1])
    ops = {field["value"]: [op["value"] for op in field["ops"]] for field in catalogue["fields"]}
    assert ops["total_spend_cents"] == ["gte", "lte", "between"] and ops["email_consent"] == ["eq"]
    assert ops["registered_at"] == ["within_days", "older_than_days", "before", "after"]

    response = dash.post(NEW, segment_form(restaurant, rule=REGULARS), follow_redirects=True)
    assert response.request.path == LIST and "Segment “Big spenders” saved." in text_of(response)
    created = make.get("/api/segments/")["results"]
    assert [(s["name"], s["rule"], s["restaurant"]) for s in created] == [("Big spenders", REGULARS, restaurant["id"])]
    assert actors_of(container.application, created[0]["id"]) == [ACTOR]


def test_without_the_csrf_token_nothing_is_saved(dash, make, restaurant):
    assert dash.post(NEW, segment_form(restaurant), csrf=False).status_code == 400
    assert make.get("/api/segments/")["count"] == 0


@pytest.mark.parametrize(
    "rule, shown",
    [
        (
            {"all": [BIG_SPENDERS["all"][0], {"field": "visit_count", "op": "never"}]},
            "Condition 2, comparison: must be one of gte, lte, between.",
        ),
        (
            {"any": [{"all": [{"field": "visits_in_last_days", "op": "gte", "value": 2, "days": 0}]}]},
            "Group 1, condition 1, days: must be an integer from 1 to 36500.",
        ),
        ("{not json", "This is not JSON: "),
    ],
)
def test_a_refused_rule_is_named_in_words_beside_the_form(dash, make, restaurant, rule, shown):
    response = dash.post(NEW, segment_form(restaurant, rule=rule))
    page = text_of(response)
    assert response.status_code == 200 and shown in page
    assert 'id="rule-error"' in page and 'aria-invalid="true"' in page
    # Check what was typed comes back, for the builder to draw again.
    assert html_rule(response) == (rule if isinstance(rule, str) else json.dumps(rule))
    assert make.get("/api/segments/")["count"] == 0


def html_rule(response) -> str:
    return text_of(response).split('name="rule"', 1)[1].split(">", 1)[1].split("</textarea>")[0].strip()


def test_a_missing_name_or_restaurant_is_refused_on_its_field(dash, make, restaurant):
    page = text_of(dash.post(NEW, segment_form(None, name="")))
    assert page.count("This field is required.") == 2
    assert make.get("/api/segments/")["count"] == 0


def test_count_without_javascript_shows_whom_the_rule_matches_and_saves_nothing(dash, make, restaurant, guests):
    page = text_of(dash.post(NEW, segment_form(restaurant, count="Count")))
    assert '<strong data-field="segment-count">1</strong> customer matches now.' in page
    assert "Ann Lee &lt;ann@example.com&gt;" in page or "Ann Lee <ann@example.com>" in page
    assert make.get("/api/segments/")["count"] == 0


def test_editing_changes_the_name_and_rule(dash, admin, make, container, restaurant, guests):
    segment = saved(admin, restaurant, "Big spenders", BIG_SPENDERS)
    path = f"/internal/segments/{segment['id']}/edit/"
    page = dash.get(path)
    assert page.status_code == 200 and unlabelled_controls(page) == []
    assert html_rule(page) == json.dumps(BIG_SPENDERS) and 'value="Big spenders"' in text_of(page)
    assert 'name="restaurant"' not in text_of(page)  # its restaurant cannot change

    response = dash.post(path, segment_form(None, name="Regulars", rule=REGULARS), follow_redirects=True)
    assert "Segment “Regulars” saved." in text_of(response)
    changed = make.get(f"/api/segments/{segment['id']}/")
    assert (changed["name"], changed["rule"]) == ("Regulars", REGULARS)
    assert actors_of(container.application, segment["id"])[-1] == ACTOR
    refused = text_of(dash.post(path, segment_form(None, rule={"all": []})))
    assert "The list of conditions: must be a non-empty list of rules." in refused
    assert dash.get("/internal/segments/00000000-0000-0000-0000-000000000000/edit/").status_code == 404


def test_delete_asks_first_then_deletes(dash, admin, make, restaurant):
    segment = saved(admin, restaurant, "Big spenders", BIG_SPENDERS)
    edit = text_of(dash.get(f"/internal/segments/{segment['id']}/edit/"))
    assert 'data-dialog="confirm-delete"' in edit and '<dialog id="confirm-delete"' in edit
    path = f"/internal/segments/{segment['id']}/delete/"
    question = dash.get(path)
    assert question.status_code == 200 and "Delete the segment" in text_of(question)
    assert make.get("/api/segments/")["count"] == 1
    assert dash.post(path, csrf=False).status_code == 400

    response = dash.post(path, follow_redirects=True)
    assert "Segment deleted." in text_of(response) and make.get("/api/segments/")["count"] == 0
    assert dash.post(path).status_code == 404 and dash.get(path).status_code == 404


def test_the_count_endpoint_counts_the_restaurants_customers_with_a_sample(dash, restaurant, guests):
    answer = count(
        dash, {"restaurant": restaurant["id"], "rule": {"all": [{"field": "visit_count", "op": "gte", "value": 1}]}}
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["count"] == 2  # Cy, who spent more at Sushi Bar, is not Pizza Palace's
    assert sorted((c["first_name"], c["email"]) for c in body["sample"]) == [
        ("Ann", "ann@example.com"),
        ("Bob", "bob@example.com"),
    ]
    assert set(body["sample"][0]) == {"id", "first_name", "last_name", "email"}
    sushi = count(dash, {"restaurant": guests["other"]["id"], "rule": BIG_SPENDERS}).get_json()
    assert sushi["count"] == 1 and sushi["sample"][0]["first_name"] == "Cy"


@pytest.mark.parametrize(
    "body, path, where",
    [
        (
            {"rule": {"all": [{"field": "visit_count", "op": "before", "value": 1}]}},
            "rule.all[0].op",
            "Condition 1, comparison",
        ),
        (
            {"rule": {"any": [{"all": [{"field": "total_spend_cents", "op": "gte"}]}]}},
            "rule.any[0].all[0].value",
            "Group 1, condition 1, value",
        ),
        ({"rule": None}, "rule", "The rule"),
        ({"restaurant": "00000000-0000-0000-0000-000000000000", "rule": BIG_SPENDERS}, "restaurant", "Restaurant"),
        ({"restaurant": "not an id", "rule": BIG_SPENDERS}, "restaurant", "Restaurant"),
    ],
)
def test_the_count_endpoint_names_what_it_refuses(dash, restaurant, body, path, where):
    answer = count(dash, {"restaurant": restaurant["id"], **body})
    assert answer.status_code == 400
    refused = answer.get_json()
    assert (refused["path"], refused["where"]) == (path, where) and refused["message"]


def test_the_count_endpoint_needs_the_csrf_header(dash, restaurant):
    answer = count(dash, {"restaurant": restaurant["id"], "rule": BIG_SPENDERS}, csrf=False)
    assert answer.status_code == 400 and "security token" in answer.get_json()["message"]
    assert dash.client.get(COUNT).status_code == 405
    assert dash.client.post(COUNT, data="[1, 2", headers={"X-CSRFToken": dash.token}).status_code == 400


# -- the campaign form's saved segment ------------------------------------------------------


def test_a_campaign_targets_a_saved_segment_chosen_in_the_form(dash, admin, make, restaurant, guests):
    segment = saved(admin, restaurant, "Big spenders", BIG_SPENDERS)
    elsewhere = saved(admin, guests["other"], "Sushi regulars", BIG_SPENDERS)
    # Check the segments list links to a new campaign with the segment chosen.
    listing = text_of(dash.get(LIST))
    new = f"/internal/campaigns/new/?restaurant={restaurant['id']}&segment={segment['id']}"
    assert f'href="{new.replace("&", "&amp;")}"' in dash.get(LIST).get_data(as_text=True) and "New campaign" in listing
    form = text_of(dash.get(new))
    assert '<option selected value="segment">A saved segment</option>' in form
    chosen = f'<option data-restaurant="{restaurant["id"]}" selected value="{segment["id"]}">Big spenders</option>'
    assert chosen in form
    assert '<optgroup label="Sushi Bar">' in form

    body = campaign_form(restaurant, segment_type="segment", segment=segment["id"], segment_value="")
    preview = dash.post("/internal/campaigns/preview.json", body).get_json()
    assert preview["audience"] == 1  # Ann, who spent $60.00
    response = dash.post("/internal/campaigns/new/", body, follow_redirects=True)
    assert "Draft campaign created." in text_of(response)
    campaign = make.get("/api/campaigns/")["results"][0]
    assert (campaign["segment_type"], campaign["segment"]) == ("segment", segment["id"])

    # Check its edit form shows the segment chosen, among its restaurant's only.
    edit = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/edit/"))
    assert f'selected value="{segment["id"]}">Big spenders</option>' in edit and "Sushi regulars" not in edit

    none = text_of(dash.post("/internal/campaigns/new/", {**body, "segment": ""}))
    assert "Choose one of the restaurant's saved segments." in none
    other = text_of(dash.post("/internal/campaigns/new/", {**body, "segment": elsewhere["id"]}))
    assert "no such segment in this restaurant" in other
    assert make.get("/api/campaigns/")["count"] == 1


def test_a_campaign_with_its_own_rule_keeps_it_when_edited(dash, admin, make, restaurant, guests):
    body = {"restaurant": restaurant["id"], "name": "Own rule", "segment_rule": BIG_SPENDERS, "message_template": "Hi"}
    campaign = assert_created(admin.post("/api/campaigns/", json=body))
    path = f"/internal/campaigns/{campaign['id']}/edit/"
    edit = text_of(dash.get(path))
    assert '<option selected value="rule">Its own rule (set through the API)</option>' in edit
    own = {"segment_type": "rule", "segment_value": "", "segment_rule": json.dumps(BIG_SPENDERS)}
    body = campaign_form(restaurant, name="Renamed", **own)
    assert dash.post("/internal/campaigns/preview.json", body).get_json()["audience"] == 1
    assert "Campaign saved." in text_of(dash.post(path, body, follow_redirects=True))
    changed = make.get(f"/api/campaigns/{campaign['id']}/")
    assert (changed["name"], changed["segment_type"], changed["segment_rule"]) == ("Renamed", "rule", BIG_SPENDERS)
    # Check a new campaign's form does not offer a rule of its own.
    assert 'value="rule"' not in text_of(dash.get("/internal/campaigns/new/"))
