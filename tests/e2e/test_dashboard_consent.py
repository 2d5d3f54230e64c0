"""Dashboard: a customer's consent (unsubscribe, resubscribe), erasure with a typed confirmation,
and a campaign's skipped counts by reason."""

from __future__ import annotations

from tests.e2e.dashboard_support import actors_of, text_of
from tests.e2e.e2e_support import wait_for_status


def test_an_operator_unsubscribes_and_resubscribes_a_customer(dash, make, restaurant, application):
    customer = make.customer(restaurant, first_name="Ada")
    page = f"/internal/customers/{customer['id']}/"
    assert 'id="email-consent" class="badge text-bg-success">subscribed<' in text_of(dash.get(page))

    response = dash.post(f"{page}unsubscribe/", follow_redirects=True)

    assert response.status_code == 200
    assert "Unsubscribed from marketing email." in text_of(response)
    assert ">unsubscribed<" in text_of(response) and ">Resubscribe<" in text_of(response)
    assert make.get(f"/api/customers/{customer['id']}/")["email_consent"] == "unsubscribed"
    dash.post(f"{page}resubscribe/")
    events = make.get(f"/api/customers/{customer['id']}/history/")["events"]
    assert [(e["type"], e["data"].get("source")) for e in events[1:]] == [
        ("Unsubscribed", "dashboard"),
        ("Resubscribed", "dashboard"),
    ]
    assert actors_of(application, customer["id"])[1:] == ["operator:ops@example.com"] * 2
    # Check a change without the CSRF token is refused.
    assert dash.post(f"{page}unsubscribe/", csrf=False).status_code == 400
    assert make.get(f"/api/customers/{customer['id']}/")["email_consent"] == "subscribed"


def test_erasure_needs_the_typed_confirmation(dash, make, restaurant, admin):
    customer = make.customer(restaurant, email="Quorvald@example.com")
    page = f"/internal/customers/{customer['id']}/"

    refused = dash.post(f"{page}erase/", data={"confirm": "erase it"}, follow_redirects=True)

    assert "Not erased: type ERASE to confirm." in text_of(refused)
    assert admin.get(f"/api/customers/{customer['id']}/").status_code == 200
    erased = dash.post(f"{page}erase/", data={"confirm": "ERASE"}, follow_redirects=True)
    assert erased.status_code == 200 and "personal data was erased" in text_of(erased)
    assert admin.get(f"/api/customers/{customer['id']}/").status_code == 404
    assert dash.get(page).status_code == 404


def test_the_campaign_page_counts_skipped_messages_by_reason(dash, make, restaurant, clock, embedded, admin):
    guests = [make.customer(restaurant) for _ in range(3)]
    clock.advance(days=31)
    assert admin.post(f"/api/customers/{guests[0]['id']}/unsubscribe/").status_code == 200
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    wait_for_status(admin, campaign, "completed")

    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))

    assert "left out of the audience: unsubscribed</dt>" in page
    assert '<dd class="col-4 text-end mb-0">1</dd>' in page
