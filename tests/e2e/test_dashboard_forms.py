"""Dashboard forms: create and edit a draft (thresholds in dollars), the preview (the API's own), CSRF,
errors tied to their fields, labels on every page."""

from __future__ import annotations

import pytest

from tests.e2e.dashboard_support import (
    OPERATOR_EMAIL,
    actors_of,
    campaign_form,
    text_of,
    unlabelled_controls,
)
from tests.e2e.e2e_support import bring_to
from tests.e2e.form_support import controls_of, error_texts

ACTOR = f"operator:{OPERATOR_EMAIL}"


@pytest.fixture
def audience(make, restaurant, clock):
    """Ann has not been seen for 31 days; Bob visited today."""
    ann = make.customer(restaurant, first_name="Ann", last_name="Lee")
    bob = make.customer(restaurant, first_name="Bob")
    clock.advance(days=31)
    make.visit(bob, 1500)
    return ann, bob


def campaign_count(make) -> int:
    return make.get("/api/campaigns/")["count"]


def test_creating_a_draft_records_the_operator(dash, make, container, restaurant):
    response = dash.post("/internal/campaigns/new/", campaign_form(restaurant, name="Spring"), follow_redirects=True)
    assert response.status_code == 200 and "Draft campaign created." in text_of(response)
    campaign_id = response.request.path.split("/")[3]
    created = make.get(f"/api/campaigns/{campaign_id}/")
    assert created["status"] == "draft" and created["name"] == "Spring" and created["segment_value"] == 30
    assert created["subject"] == "{restaurant_name} misses you" and created["restaurant"] == restaurant["id"]
    assert actors_of(container.application, campaign_id) == [ACTOR]


def test_the_form_without_the_csrf_token_creates_nothing(dash, make, restaurant):
    response = dash.post("/internal/campaigns/new/", campaign_form(restaurant), csrf=False)
    assert response.status_code == 400 and campaign_count(make) == 0


DAYS = "Enter a whole number of days from 0 to 36500, such as 30."
DOLLARS = "Enter an amount in dollars with up to two decimals, such as 500 or 12.50."


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"message_template": "Hi {email}"},
            "message_template",
            "unknown placeholder {email}; allowed: {first_name}, {last_name}, {restaurant_name}, {unsubscribe_url}",
        ),
        ({"segment_value": "many"}, "segment_value", DAYS),
        ({"segment_value": "40000"}, "segment_value", DAYS),
        ({"segment_value": "12.50"}, "segment_value", DAYS),
        ({"segment_value": "-1"}, "segment_value", DAYS),
        ({"segment_type": "high_spenders", "segment_value": "12.505"}, "segment_value", DOLLARS),
        ({"segment_type": "high_spenders", "segment_value": "12,50"}, "segment_value", DOLLARS),
        ({"segment_type": "high_spenders", "segment_value": "-5"}, "segment_value", DOLLARS),
        (
            {"segment_type": "high_spenders", "segment_value": "9" * 5000},
            "segment_value",
            "Enter an amount of at most $10000000000.00.",
        ),
        (
            {"segment_type": "high_spenders", "segment_value": "10000000000.01"},
            "segment_value",
            "Enter an amount of at most $10000000000.00.",
        ),
        ({"segment_value": ""}, "segment_value", "This field is required."),
        ({"name": ""}, "name", "This field is required."),
        ({"restaurant": "not-a-restaurant"}, "restaurant", "Invalid Choice: could not coerce."),
        ({"restaurant": "6f1c2c1e-0000-4000-8000-000000000000"}, "restaurant", "no such restaurant"),
    ],
)
def test_invalid_settings_are_shown_by_their_field_and_not_saved(dash, make, restaurant, changes, field, message):
    response = dash.post("/internal/campaigns/new/", {**campaign_form(restaurant), **changes})
    assert response.status_code == 200
    # Check the one message is tied to its field, which has the focus, for screen readers too.
    assert error_texts(response) == {f"{field}-error": message}
    control = controls_of(response)[field]
    assert control["aria-invalid"] == "true" and control["aria-describedby"].split()[0] == f"{field}-error"
    assert [name for name, c in controls_of(response).items() if "autofocus" in c] == [field]
    assert campaign_count(make) == 0


@pytest.mark.parametrize(
    "segment_type, typed, stored",
    [
        ("high_spenders", "12.50", 1250),
        ("high_spenders", "500", 50000),
        ("high_spenders", " $500.5 ", 50050),
        ("high_spenders", ".99", 99),
        ("high_spenders", "0", 0),
        ("high_spenders", "10000000000", 10**12),
        ("inactive_days", "45", 45),
        ("inactive_days", "036500", 36500),
    ],
)
def test_the_threshold_is_typed_in_dollars_and_saved_in_cents(dash, make, restaurant, segment_type, typed, stored):
    body = campaign_form(restaurant, segment_type=segment_type, segment_value=typed)
    response = dash.post("/internal/campaigns/new/", body, follow_redirects=True)
    assert "Draft campaign created." in text_of(response)
    saved = make.get(f"/api/campaigns/{response.request.path.split('/')[3]}/")
    assert (saved["segment_type"], saved["segment_value"]) == (segment_type, stored)


def test_the_form_speaks_dollars(dash, make, restaurant):
    page = text_of(dash.get("/internal/campaigns/new/"))
    assert (
        '<option data-unit="dollars" value="high_spenders">High spenders: total spend of at least $N</option>'
    ) in page
    assert (
        '<div class="form-text" id="segment_value-help">'
        "Days for inactive customers (such as 30); dollars for high spenders (such as 500 or 12.50).</div>"
    ) in page
    assert "cents" not in page
    # Check a saved threshold in cents is shown in dollars, and saved back unchanged.
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=1250)
    edit = dash.get(f"/internal/campaigns/{campaign['id']}/edit/")
    assert controls_of(edit)["segment_value"]["value"] == "12.50"
    body = campaign_form(restaurant, segment_type="high_spenders", segment_value="12.50", name="Renamed")
    dash.post(f"/internal/campaigns/{campaign['id']}/edit/", body)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["segment_value"] == 1250


def test_a_valid_form_has_no_error_and_no_autofocus(dash, restaurant):
    controls = controls_of(dash.get("/internal/campaigns/new/"))
    assert [c for c in controls.values() if "aria-invalid" in c or "autofocus" in c] == []
    assert controls["segment_value"]["aria-describedby"] == "segment_value-help"
    assert "aria-describedby" not in controls["name"] and "required" in controls["name"]
    # Check the first invalid field gets the focus, not a later one.
    failed = dash.post("/internal/campaigns/new/", campaign_form(restaurant, name="", message_template=""))
    required = "This field is required."
    assert error_texts(failed) == {"name-error": required, "message_template-error": required}
    focused = [name for name, c in controls_of(failed).items() if "autofocus" in c]
    assert focused == ["name"]
    assert controls_of(failed)["message_template"]["aria-describedby"] == "message_template-error message_template-help"


def api_preview(admin, restaurant, form: dict, segment_value: int) -> dict:
    body = {**form, "restaurant": restaurant["id"], "segment_value": segment_value}
    response = admin.post("/api/campaigns/preview/", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_live_preview_is_the_apis_preview(dash, admin, restaurant, audience):
    form = campaign_form(restaurant)
    expected = api_preview(admin, restaurant, form, 30)
    assert expected["audience"] == 1 and expected["samples"][0]["message"] == "Hi Ann, come back!"
    response = dash.post("/internal/campaigns/preview.json", form)
    assert response.status_code == 200 and response.get_json() == expected
    # Check the dashboard's dollars are the API's cents: Bob spent $15.00.
    spenders = campaign_form(restaurant, segment_type="high_spenders", segment_value="10.50")
    answer = dash.post("/internal/campaigns/preview.json", spenders).get_json()
    assert answer == api_preview(admin, restaurant, spenders, 1050) and answer["audience"] == 1
    above = campaign_form(restaurant, segment_type="high_spenders", segment_value="15.01")
    assert dash.post("/internal/campaigns/preview.json", above).get_json()["audience"] == 0
    # Check invalid settings answer with the field's message, and the token is required.
    invalid = dash.post("/internal/campaigns/preview.json", campaign_form(restaurant, subject="{0}"))
    assert invalid.status_code == 400 and list(invalid.get_json()["errors"]) == ["subject"]
    days = dash.post("/internal/campaigns/preview.json", campaign_form(restaurant, segment_value="12.50"))
    assert days.status_code == 400 and days.get_json() == {"errors": {"segment_value": [DAYS]}}
    refused = dash.post("/internal/campaigns/preview.json", form, csrf=False)
    assert refused.status_code == 400 and "security token" in refused.get_json()["message"]


def test_the_preview_button_shows_the_audience_and_messages_without_saving(dash, make, restaurant, audience):
    response = dash.post("/internal/campaigns/new/", {**campaign_form(restaurant), "preview": "Preview"})
    page = text_of(response)
    assert response.status_code == 200
    assert '<p class="mb-1" data-field="segment">Inactive customers: no visit for at least 30 days</p>' in page
    assert '<strong data-field="audience-count">1</strong> customer matches now.' in page
    assert "Pizza Palace misses you" in page and "Hi Ann, come back!" in page
    assert campaign_count(make) == 0


def test_editing_a_draft_saves_it_as_the_operator(dash, make, container, restaurant, audience):
    campaign = make.campaign(restaurant, name="Old name")
    form_page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/edit/"))
    assert 'value="Old name"' in form_page and f'value="{restaurant["id"]}"' in form_page
    body = campaign_form(restaurant, name="New name", segment_type="high_spenders", segment_value="10")
    response = dash.post(f"/internal/campaigns/{campaign['id']}/edit/", body, follow_redirects=True)
    assert "Campaign saved." in text_of(response)
    saved = make.get(f"/api/campaigns/{campaign['id']}/")
    assert (saved["name"], saved["segment_type"], saved["segment_value"]) == ("New name", "high_spenders", 1000)
    assert actors_of(container.application, campaign["id"])[-1] == ACTOR
    # Check the edit form previews with the campaign's own restaurant.
    previewed = text_of(dash.post(f"/internal/campaigns/{campaign['id']}/edit/", {**body, "preview": "Preview"}))
    assert '<strong data-field="audience-count">1</strong>' in previewed and "Hi Bob, come back!" in previewed
    assert '<p class="mb-1" data-field="segment">High spenders: total spend of at least $10.00</p>' in previewed


def test_editing_without_the_csrf_token_changes_nothing(dash, make, restaurant):
    campaign = make.campaign(restaurant, name="Old name")
    response = dash.post(f"/internal/campaigns/{campaign['id']}/edit/", campaign_form(restaurant, name="X"), csrf=False)
    assert response.status_code == 400 and make.get(f"/api/campaigns/{campaign['id']}/")["name"] == "Old name"


def test_a_campaign_that_is_not_a_draft_cannot_be_edited(dash, make, container, restaurant):
    campaign = bring_to(make, container, make.campaign(restaurant, name="Old name"), "running")
    shown = dash.get(f"/internal/campaigns/{campaign['id']}/edit/", follow_redirects=True)
    assert shown.request.path == f"/internal/campaigns/{campaign['id']}/"
    assert "Only a draft can be edited; this campaign is running." in text_of(shown)
    before = actors_of(container.application, campaign["id"])
    posted = dash.post(f"/internal/campaigns/{campaign['id']}/edit/", campaign_form(restaurant), follow_redirects=True)
    assert "Not saved: cannot edit a campaign that is running." in text_of(posted)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["name"] == "Old name"
    assert actors_of(container.application, campaign["id"]) == before


def test_every_input_of_every_page_has_a_label(dash, visitor, make, restaurant, audience):
    ann, _ = audience
    campaign = make.campaign(restaurant)
    for path in (
        "/internal/campaigns/",
        f"/internal/campaigns/{campaign['id']}/",
        "/internal/campaigns/new/",
        f"/internal/campaigns/{campaign['id']}/edit/",
        "/internal/customers/",
        f"/internal/customers/{ann['id']}/",
        "/internal/logout/",
    ):
        page = dash.get(path)
        assert page.status_code == 200, path
        assert unlabelled_controls(page) == [], path
    login = visitor.get("/internal/login/")
    assert unlabelled_controls(login) == [] and 'for="email"' in text_of(login) and 'for="password"' in text_of(login)
