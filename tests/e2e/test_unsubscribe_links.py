"""/u/<token>: the unsubscribe link (RFC 8058 one-click POST, and a page for people)."""

import uuid

from tests.e2e.e2e_support import assert_error

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def link_of(container, customer: dict, campaign_id: uuid.UUID | None = None) -> str:
    return "/u/" + container.unsubscribe_links.token(uuid.UUID(customer["id"]), campaign_id or uuid.uuid4())


def consent_events(make, customer: dict) -> list:
    events = make.get(f"/api/customers/{customer['id']}/history/")["events"]
    return [(e["type"], e["data"]["source"], e["actor"]) for e in events if "source" in e["data"]]


def test_one_click_post_unsubscribes_without_cookie_login_or_csrf(client, make, restaurant, container):
    customer = make.customer(restaurant)
    link = link_of(container, customer)

    response = client.post(link, data=ONE_CLICK)

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "You are unsubscribed" in response.get_data(as_text=True)
    assert make.get(f"/api/customers/{customer['id']}/")["email_consent"] == "unsubscribed"
    # Check a repeat is harmless: 200, nothing recorded twice.
    assert client.post(link, data=ONE_CLICK).status_code == 200
    assert consent_events(make, customer) == [("Unsubscribed", "one_click", "unsubscribe-link")]


def test_the_page_names_the_restaurant_and_its_button_unsubscribes(client, make, restaurant, container):
    customer = make.customer(restaurant)
    link = link_of(container, customer)

    page = client.get(link)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert restaurant["name"] in html and 'name="List-Unsubscribe" value="One-Click"' in html
    assert make.get(f"/api/customers/{customer['id']}/")["email_consent"] == "subscribed"  # a GET changes nothing
    done = client.post(link, data={**ONE_CLICK, "via": "page"})
    assert done.status_code == 200 and restaurant["name"] in done.get_data(as_text=True)
    assert consent_events(make, customer) == [("Unsubscribed", "unsubscribe_page", "unsubscribe-link")]
    assert "You are unsubscribed" in client.get(link).get_data(as_text=True)


def test_an_altered_or_unknown_token_gets_404_and_changes_nothing(client, make, restaurant, container):
    customer = make.customer(restaurant)
    link = link_of(container, customer)
    altered = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    gone = make.customer(restaurant)
    assert make.admin.delete(f"/api/customers/{gone['id']}/").status_code == 204

    for bad in (altered, "/u/not-a-token", link_of(container, gone), link_of(container, {"id": str(uuid.uuid4())})):
        assert client.post(bad, data=ONE_CLICK).status_code == 404, bad
        assert client.get(bad).status_code == 404, bad
    assert consent_events(make, customer) == []


def test_a_post_without_the_one_click_body_changes_nothing(client, make, restaurant, container):
    customer = make.customer(restaurant)
    response = client.post(link_of(container, customer), data={"List-Unsubscribe": "yes"})
    assert response.status_code == 400
    assert consent_events(make, customer) == []
    assert_error(make.admin.post(f"/api/customers/{uuid.uuid4()}/unsubscribe/"), 404)


def test_the_link_records_the_campaign_whose_message_it_came_in(client, make, restaurant, container):
    customer = make.customer(restaurant)
    campaign_id = uuid.uuid4()

    assert client.post(link_of(container, customer, campaign_id), data=ONE_CLICK).status_code == 200

    events = make.get(f"/api/customers/{customer['id']}/history/")["events"]
    assert [e["data"] for e in events if e["type"] == "Unsubscribed"] == [
        {"source": "one_click", "campaign_id": str(campaign_id)}
    ]
