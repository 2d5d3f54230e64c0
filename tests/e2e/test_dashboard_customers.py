"""Dashboard customer pages: search within a restaurant, and a customer's visits and history."""

from __future__ import annotations

import re
import uuid

from tests.e2e.dashboard_support import text_of


def emails_listed(page: str) -> set[str]:
    return set(re.findall(r'<a href="/internal/customers/[0-9a-f-]+/">([^<]+)</a>', page))


def search(dash, **query) -> str:
    response = dash.get("/internal/customers/", query_string=query)
    assert response.status_code == 200
    return text_of(response)


def test_search_by_email_or_name_within_one_restaurant(dash, make):
    bistro, pizza = make.restaurant("A Bistro"), make.restaurant("Pizza Palace")
    make.customer(pizza, "ann.lee@example.com", first_name="Ann", last_name="Lee")
    make.customer(pizza, "bob@example.com", first_name="Robert", last_name="Annan")
    make.customer(pizza, "carol@example.com", first_name="Carol")
    make.customer(bistro, "ann.other@example.com", first_name="Ann")
    assert emails_listed(search(dash, restaurant=pizza["id"], q="ann")) == {"ann.lee@example.com", "bob@example.com"}
    assert emails_listed(search(dash, restaurant=pizza["id"], q="CAROL@EXAMPLE")) == {"carol@example.com"}
    assert emails_listed(search(dash, restaurant=pizza["id"], q="ann lee")) == {"ann.lee@example.com"}
    assert emails_listed(search(dash, restaurant=pizza["id"], q="%")) == set()
    assert len(emails_listed(search(dash, restaurant=pizza["id"]))) == 3
    # Check another restaurant's customers stay out, and the first restaurant by name is the default.
    assert emails_listed(search(dash, restaurant=bistro["id"], q="ann")) == {"ann.other@example.com"}
    default = search(dash, q="ann")
    assert emails_listed(default) == {"ann.other@example.com"}
    assert f'<option value="{bistro["id"]}" selected>A Bistro</option>' in default


def test_search_results_are_paged(dash, make, restaurant, application):
    for n in range(30):
        application.register_customer(uuid.UUID(restaurant["id"]), f"guest{n}@example.com", actor="a", scope=None)
    first = search(dash, restaurant=restaurant["id"], q="guest")
    assert "30 customers" in first and "Page 1 of 2" in first and len(emails_listed(first)) == 25
    second = search(dash, restaurant=restaurant["id"], q="guest", page=2)
    assert "Page 2 of 2" in second and len(emails_listed(second)) == 5
    assert f'href="/internal/customers/?restaurant={restaurant["id"]}&q=guest&page=1">First' in second


def test_the_customer_page_shows_totals_visits_and_the_history_replayed_from_events(dash, make, admin, restaurant):
    customer = make.customer(restaurant, "ann@example.com", first_name="Ann", last_name="Lee")
    make.visit(customer, 2500)
    visit = make.visit(customer, 1250)
    assert admin.patch(f"/api/visits/{visit['id']}/", json={"spend_cents": 1300}).status_code == 200
    assert admin.patch(f"/api/customers/{customer['id']}/", json={"first_name": "Annie"}).status_code == 200
    page = text_of(dash.get(f"/internal/customers/{customer['id']}/"))
    assert "Annie Lee" in page and "38.00" in page and "25.00" in page and "13.00" in page
    history = page[page.index('id="history-title"') :]
    types = re.findall(r'<span class="fw-semibold">(\w+)</span>', history)
    assert types == ["Registered", "VisitRecorded", "VisitRecorded", "VisitCorrected", "DetailsChanged"]
    assert re.findall(r'<span class="actor">([^<]+)</span>', history) == ["admin-test"] * 5
    assert "ann@example.com" in history and "1300" in history


def test_visits_are_paged(dash, make, restaurant, application):
    customer = make.customer(restaurant)
    for n in range(25):
        application.record_visit(uuid.UUID(customer["id"]), 100 + n, actor="till", scope=None)
    page = text_of(dash.get(f"/internal/customers/{customer['id']}/"))
    assert "Page 1 of 2" in page and page.count('</td><td class="text-end">') == 20
    # Check the history is complete: 1 registration and 25 visits, whatever the visits page.
    assert page.count('<span class="fw-semibold">VisitRecorded</span>') == 25


def test_an_unknown_or_deleted_customer_is_a_404(dash, make, admin, restaurant):
    customer = make.customer(restaurant)
    assert admin.delete(f"/api/customers/{customer['id']}/").status_code == 204
    for customer_id in (customer["id"], str(uuid.uuid4())):
        response = dash.get(f"/internal/customers/{customer_id}/")
        assert response.status_code == 404 and "No such customer." in text_of(response)
