"""Dashboard customer pages: search across restaurants, a customer's timeline (visits, consent,
messages) and their event log, newest first and in plain words, money in dollars."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import wait_for_status


def emails_listed(page: str) -> list[str]:
    return re.findall(r'<a href="/internal/customers/[0-9a-f-]+/">([^<]+)</a>', page)


def search(dash, **query) -> str:
    response = dash.get("/internal/customers/", query_string=query)
    assert response.status_code == 200
    return text_of(response)


def plain(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split()).replace(" ,", ",")


def items_of(page: str, list_class: str) -> list[str]:
    """The text of each item of the first list with `list_class`, tags removed."""
    start = page.index(f'class="list-group {list_class}')
    body = page[start : page.index("</ol>", start)]
    return [plain(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", body, re.S)]


def timeline(page: str) -> list[str]:
    return items_of(page, "customer-timeline")


def event_log(page: str) -> list[str]:
    """The plain words of each logged event (without its raw form)."""
    log = page[page.index('id="event-log"') :]
    return [item.split(" Raw event ")[0] for item in items_of(log, "customer-timeline")]


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def test_search_covers_all_restaurants_by_default(dash, make, clock):
    bistro, pizza = make.restaurant("A Bistro"), make.restaurant("Pizza Palace")
    for restaurant, email, names in [
        (pizza, "ann.lee@example.com", {"first_name": "Ann", "last_name": "Lee"}),
        (pizza, "bob@example.com", {"first_name": "Robert", "last_name": "Annan"}),
        (pizza, "carol@example.com", {"first_name": "Carol"}),
        (bistro, "ann.other@example.com", {"first_name": "Ann"}),
    ]:
        make.customer(restaurant, email, **names)
        clock.advance(minutes=1)

    default = search(dash, q="ann")

    # Check every restaurant's customers are found, newest first, with their restaurant named.
    assert emails_listed(default) == ["ann.other@example.com", "bob@example.com", "ann.lee@example.com"]
    assert '<option value="" selected>All restaurants</option>' in default
    assert '<td data-label="Restaurant">A Bistro</td>' in default
    assert "3 customers matching “ann”" in default
    assert emails_listed(search(dash, restaurant="", q="ann")) == emails_listed(default)
    # Check one restaurant can still be chosen, and the search text matches email or names.
    assert emails_listed(search(dash, restaurant=pizza["id"], q="ann")) == ["bob@example.com", "ann.lee@example.com"]
    assert emails_listed(search(dash, restaurant=pizza["id"], q="CAROL@EXAMPLE")) == ["carol@example.com"]
    assert emails_listed(search(dash, restaurant=pizza["id"], q="ann lee")) == ["ann.lee@example.com"]
    assert emails_listed(search(dash, restaurant=pizza["id"], q="%")) == []
    assert emails_listed(search(dash, restaurant=bistro["id"], q="ann")) == ["ann.other@example.com"]
    assert f'<option value="{bistro["id"]}" selected>A Bistro</option>' in search(dash, restaurant=bistro["id"])
    # Check an unknown restaurant finds nobody rather than everybody.
    assert emails_listed(search(dash, restaurant=str(uuid.uuid4()))) == []


def test_search_results_are_paged(dash, make, restaurant, application):
    for n in range(30):
        application.register_customer(uuid.UUID(restaurant["id"]), f"guest{n}@example.com", actor="a", scope=None)
    first = search(dash, q="guest")
    assert "30 customers" in first and "Page 1 of 2" in first and len(emails_listed(first)) == 25
    second = search(dash, q="guest", page=2)
    assert "Page 2 of 2" in second and len(emails_listed(second)) == 5
    assert 'href="/internal/customers/?q=guest&page=1">First' in second


def test_the_list_and_the_customer_page_speak_dollars_and_the_restaurants_time(dash, make, clock):
    clock.now = at(2026, 8, 1, 9, 30)
    rome = make.restaurant("Roma", timezone="Europe/Rome")
    customer = make.customer(rome, "ann@example.com", first_name="Ann", last_name="Lee")
    make.visit(customer, 123456, visited_at=at(2026, 7, 31, 17, 0))
    make.visit(customer, 5, visited_at=at(2026, 7, 30, 17, 0))

    listed = search(dash, q="ann@")
    page = text_of(dash.get(f"/internal/customers/{customer['id']}/"))

    assert '<td data-label="Total spend" class="text-end">$1,234.61</td>' in listed
    assert "31 Jul 2026, 19:00 Europe/Rome</time>" in listed
    assert 'id="customer-total-spend">$1,234.61<' in page
    assert (
        'id="customer-last-visit"><time datetime="2026-07-31T17:00:00+00:00">31 Jul 2026, 19:00 Europe/Rome</time><'
    ) in page
    assert 'id="customer-registered"><time datetime="2026-08-01T09:30:00+00:00">1 Aug 2026, 11:30 Europe/Rome<' in page
    assert "cents" not in re.sub(r"<pre.*?</pre>", "", page, flags=re.S)


def test_the_timeline_merges_visits_consent_and_messages_newest_first(dash, make, admin, clock, embedded):
    clock.now = at(2026, 7, 1, 8, 0)
    rome = make.restaurant("Roma", timezone="Europe/Rome")
    ann = make.customer(rome, "ann@example.com", first_name="Ann", last_name="Lee")
    clock.now = at(2026, 7, 3, 8, 0)
    make.visit(ann, 1250, visited_at=at(2026, 7, 2, 17, 0))
    clock.now = at(2026, 8, 20, 9, 0)
    campaign = make.campaign(rome, name="We miss you")
    make.control(campaign, "run")
    wait_for_status(admin, campaign, "completed")
    clock.now = at(2026, 8, 21, 10, 0)
    assert dash.post(f"/internal/customers/{ann['id']}/unsubscribe/").status_code == 302
    clock.now = at(2026, 8, 26, 18, 0)
    make.visit(ann, 833, visited_at=at(2026, 8, 26, 17, 0))

    page = text_of(dash.get(f"/internal/customers/{ann['id']}/"))

    assert timeline(page) == [
        "Visit: $8.33, 26 Aug 2026, 19:00 Europe/Rome",
        "Unsubscribed from marketing email (by an operator), 21 Aug 2026, 12:00 Europe/Rome",
        "Message: We miss you sent, 20 Aug 2026, 11:00 Europe/Rome",
        "Visit: $12.50, 2 Jul 2026, 19:00 Europe/Rome",
        "Registered, 1 Jul 2026, 10:00 Europe/Rome",
    ]
    assert f'Message: <a href="/internal/campaigns/{campaign["id"]}/">We miss you</a>' in page
    assert '<span class="badge text-bg-success">sent</span>' in page


def test_a_skipped_message_says_why(dash, make, admin, clock, embedded):
    clock.now = at(2026, 6, 1, 12, 0)
    capped = make.restaurant("Capped", frequency_cap_messages=1, frequency_cap_days=7)
    ann = make.customer(capped, "ann@example.com")
    clock.now = at(2026, 7, 6, 12, 0)
    for name in ("First", "Second"):
        campaign = make.campaign(capped, name=name)
        make.control(campaign, "run")
        wait_for_status(admin, campaign, "completed")
        clock.advance(hours=1)

    page = text_of(dash.get(f"/internal/customers/{ann['id']}/"))

    assert timeline(page) == [
        "Message: Second skipped, 6 Jul 2026, 13:00 UTC the restaurant's frequency cap was reached",
        "Message: First sent, 6 Jul 2026, 12:00 UTC",
        "Registered, 1 Jun 2026, 12:00 UTC",
    ]


def test_the_timeline_is_paged(dash, make, application, clock):
    clock.now = at(2026, 3, 1, 12, 0)
    customer = make.customer(make.restaurant("In UTC"))
    clock.now = at(2026, 4, 1, 12, 0)
    for n in range(25):
        visited_at = at(2026, 3, 2 + n, 20, 0)
        application.record_visit(uuid.UUID(customer["id"]), 100 + n, visited_at, actor="till", scope=None)
    path = f"/internal/customers/{customer['id']}/"

    first = text_of(dash.get(path))
    last = text_of(dash.get(path, query_string={"page": 2}))

    assert "Page 1 of 2" in first and len(timeline(first)) == 20
    assert timeline(first)[0] == "Visit: $1.24, 26 Mar 2026, 20:00 UTC"
    assert timeline(first)[-1] == "Visit: $1.05, 7 Mar 2026, 20:00 UTC"
    assert timeline(last) == [f"Visit: $1.0{n}, {2 + n} Mar 2026, 20:00 UTC" for n in (4, 3, 2, 1, 0)] + [
        "Registered, 1 Mar 2026, 12:00 UTC"
    ]
    # Check a page past the end answers the last page.
    assert timeline(text_of(dash.get(path, query_string={"page": 9}))) == timeline(last)


RECORDED = "recorded 20 Jun 2026, 10:00 Europe/Rome by admin-test"


def test_the_event_log_is_newest_first_paged_in_plain_words_with_the_raw_event(dash, make, admin, clock):
    clock.now = at(2026, 5, 1, 7, 0)
    rome = make.restaurant("Roma", timezone="Europe/Rome")
    customer = make.customer(rome, "ann@example.com", first_name="Ann", last_name="Lee")
    clock.now = at(2026, 6, 20, 8, 0)
    visits = [make.visit(customer, 800 + n, visited_at=at(2026, 5, 1, 17, 0) + timedelta(days=n)) for n in range(42)]
    assert admin.patch(f"/api/visits/{visits[0]['id']}/", json={"spend_cents": 833}).status_code == 200
    assert admin.patch(f"/api/customers/{customer['id']}/", json={"first_name": "Annie"}).status_code == 200
    assert admin.post(f"/api/customers/{customer['id']}/unsubscribe/").status_code == 200
    path = f"/internal/customers/{customer['id']}/"

    first = text_of(dash.get(path))
    last = text_of(dash.get(path, query_string={"events": 3}))

    # Check 46 events: 20, 20, then the 6 oldest; the newest on top, in the restaurant's time.
    assert "46 events replayed from the log, newest first, for audits" in first
    assert 'aria-label="Event log pages"' in first and "Page 1 of 3" in first
    assert event_log(first)[:4] == [
        f"Unsubscribed from marketing email (through the API) Event 46, {RECORDED}",
        f"Details changed: Annie Lee, ann@example.com Event 45, {RECORDED}",
        f"Visit corrected: $8.33, 1 May 2026, 19:00 Europe/Rome Event 44, {RECORDED}",
        f"Visit: $8.41, 11 Jun 2026, 19:00 Europe/Rome Event 43, {RECORDED}",
    ]
    assert len(event_log(first)) == 20
    assert event_log(last) == [
        *(f"Visit: $8.0{n}, {1 + n} May 2026, 19:00 Europe/Rome Event {n + 2}, {RECORDED}" for n in (4, 3, 2, 1, 0)),
        "Registered: Ann Lee, ann@example.com Event 1, recorded 1 May 2026, 09:00 Europe/Rome by admin-test",
    ]
    # Check the raw event is one click away, whole, and the log opens itself on its own pages.
    assert "<summary>Raw event</summary>" in first
    raw = re.findall(r'<pre class="customer-raw mb-0">(.*?)</pre>', last, re.S)[-1]
    assert '"type": "Registered"' in raw and '"email": "ann@example.com"' in raw and '"version": 1' in raw
    assert '<details class="customer-log" id="event-log">' in first
    assert '<details class="customer-log" id="event-log" open>' in last
    assert "spend_cents" not in first.split('id="event-log"')[1].split("<pre")[0]


def test_an_unknown_deleted_or_erased_customer_is_a_404_with_no_timeline(dash, make, admin, restaurant, container):
    deleted, erased = make.customer(restaurant), make.customer(restaurant, "quorvald@example.com")
    make.visit(erased, 500)
    assert admin.delete(f"/api/customers/{deleted['id']}/").status_code == 204
    assert admin.post(f"/api/customers/{erased['id']}/erase/").status_code == 204
    for customer_id in (deleted["id"], erased["id"], str(uuid.uuid4())):
        response = dash.get(f"/internal/customers/{customer_id}/")
        assert response.status_code == 404 and "No such customer." in text_of(response)
        assert container.customer_page_queries.customer_page(uuid.UUID(customer_id), 1, 20) is None
    # Check the search lists neither (the erased row keeps no address to match).
    assert emails_listed(search(dash)) == []
    assert "0 customers matching “quorvald”" in search(dash, q="quorvald")
