"""Dashboard campaign pages: the list and its filters, the detail, its pager, the progress endpoint."""

from __future__ import annotations

import re
import uuid

from tests.commands import Caller
from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import bring_to, queue_outreach

WORKER = "worker"


def field(page: str, name: str) -> str:
    match = re.search(rf'data-field="{name}">([^<]*)<', page)
    assert match, f"no data-field {name}"
    return match.group(1)


def controls(page: str) -> set[str]:
    """The controls shown (every control is on the page; those not allowed now are hidden)."""
    return set(re.findall(r'data-control="([\w-]+)"(?! hidden)', page))


def names_listed(page: str) -> set[str]:
    return set(re.findall(r'<a href="/internal/campaigns/[0-9a-f-]+/">([^<]+)</a>', page))


def test_the_list_shows_status_counts_progress_and_filters_by_restaurant_and_status(dash, make, container, clock):
    pizza, sushi = make.restaurant("Pizza Palace"), make.restaurant("Sushi Bar")
    guests = [make.customer(pizza) for _ in range(4)]
    clock.advance(days=31)
    make.campaign(pizza, name="Pizza draft")
    running = make.campaign(pizza, name="Pizza running")
    records = queue_outreach(make, container, running, guests)
    records[0].record_sent(1, WORKER, clock())
    Caller(container).record_outcomes(records[:1])
    bring_to(make, container, make.campaign(sushi, name="Sushi cancelled"), "cancelled")

    page = text_of(dash.get("/internal/campaigns/"))
    assert names_listed(page) == {"Pizza draft", "Pizza running", "Sushi cancelled"}
    assert '<span class="badge text-bg-primary" data-field="status">running</span>' in page
    assert '<span class="badge text-bg-dark" data-field="status">cancelled</span>' in page
    # Check the running campaign's row: audience 4, one sent, a quarter done, polled live.
    row = page[page.index("Pizza running") :]
    assert field(row, "audience") == "4" and field(row, "sent") == "1" and field(row, "failed") == "0"
    assert 'aria-valuenow="25"' in row.split("</tr>")[0]
    assert f'data-progress-url="/internal/campaigns/{running["id"]}/progress.json"' in page

    by_restaurant = text_of(dash.get("/internal/campaigns/", query_string={"restaurant": sushi["id"]}))
    assert names_listed(by_restaurant) == {"Sushi cancelled"}
    by_status = text_of(dash.get("/internal/campaigns/", query_string={"status": "running"}))
    assert names_listed(by_status) == {"Pizza running"}
    both = text_of(dash.get("/internal/campaigns/", query_string={"restaurant": pizza["id"], "status": "draft"}))
    assert names_listed(both) == {"Pizza draft"}
    ignored = text_of(dash.get("/internal/campaigns/", query_string={"status": "bogus", "restaurant": "nope"}))
    assert len(names_listed(ignored)) == 3


def test_the_detail_shows_settings_counts_and_only_the_controls_valid_now(dash, make, container, restaurant, clock):
    guests = [make.customer(restaurant) for _ in range(4)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant, name="Spring", message_template="Hi {first_name}, spring is here")
    draft = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    assert "Spring" in draft and "Hi {first_name}, spring is here" in draft and "No visit for at least 30 days" in draft
    assert controls(draft) == {"edit", "run", "cancel"}
    # A draft is watched too: another operator may run it.
    assert f'data-progress-url="/internal/campaigns/{campaign["id"]}/progress.json"' in draft

    queued, sent, failed, skipped = queue_outreach(make, container, campaign, guests)
    sent.record_sent(1, WORKER, clock())
    failed.record_failed(3, "gave up after 3 attempts: timeout", WORKER, clock())
    skipped.skip("customer removed since the campaign started", WORKER, clock())
    Caller(container).record_outcomes([sent, failed, skipped])
    running = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    assert [field(running, s) for s in ("queued", "sent", "failed", "skipped")] == ["1", "1", "1", "1"]
    assert field(running, "done") == "3" and field(running, "audience") == "4"
    assert controls(running) == {"pause", "cancel"}
    assert "gave up after 3 attempts: timeout" in running and "data-progress-url" in running

    Caller(container).pause_campaign(uuid.UUID(campaign["id"]), actor="admin", scope=None)
    assert controls(text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))) == {"resume", "cancel"}
    Caller(container).cancel_campaign(uuid.UUID(campaign["id"]), actor="admin", scope=None)
    assert controls(text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))) == set()


def pager_links(page: str) -> dict[str, str]:
    return dict((text, href) for href, text in re.findall(r'<a class="page-link" href="([^"]+)">(\w+)</a>', page))


def test_the_outreach_pager_is_bounded_and_keeps_the_filter(dash, make, container, restaurant, clock, application):
    restaurant_id = uuid.UUID(restaurant["id"])
    guests = [
        {"id": str(application.register_customer(restaurant_id, f"g{n}@example.com", actor="a", scope=None))}
        for n in range(60)
    ]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    records = queue_outreach(make, container, campaign, guests)
    for record in records[:30]:
        record.record_sent(1, WORKER, clock())
    application.record_outcomes(records[:30])
    path = f"/internal/campaigns/{campaign['id']}/"

    first = text_of(dash.get(path))
    assert "Page 1 of 3" in first and "60 records" in first
    assert pager_links(first) == {"Next": f"{path}?page=2", "Last": f"{path}?page=3"}
    assert first.count('<a href="/internal/customers/') == 25
    middle = text_of(dash.get(path, query_string={"page": 2}))
    assert "Page 2 of 3" in middle and set(pager_links(middle)) == {"First", "Previous", "Next", "Last"}
    last = text_of(dash.get(path, query_string={"page": 3}))
    assert "Page 3 of 3" in last and set(pager_links(last)) == {"First", "Previous"}
    assert last.count('<a href="/internal/customers/') == 10
    # Check a page past the end shows the last one, and junk shows the first.
    assert "Page 3 of 3" in text_of(dash.get(path, query_string={"page": 99}))
    assert "Page 1 of 3" in text_of(dash.get(path, query_string={"page": "-1x"}))

    sent = text_of(dash.get(path, query_string={"status": "sent", "page": 2}))
    assert "30 records sent" in sent and "Page 2 of 2" in sent
    assert pager_links(sent) == {"First": f"{path}?status=sent&page=1", "Previous": f"{path}?status=sent&page=1"}
    assert sent.count(">queued</span></td>") == 0 and sent.count(">sent</span></td>") == 5


def test_progress_json_gives_counts_percent_rate_and_eta_until_final(dash, make, container, restaurant, clock):
    guests = [make.customer(restaurant) for _ in range(4)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    records = queue_outreach(make, container, campaign, guests)  # started now
    clock.advance(seconds=10)
    for record in records[:2]:
        record.record_sent(1, WORKER, clock())
    Caller(container).record_outcomes(records[:2])
    url = f"/internal/campaigns/{campaign['id']}/progress.json"
    assert dash.get(url).get_json() == {
        "status": "running",
        "final": False,
        "retried_failed": False,
        "audience": 4,
        "excluded_unsubscribed": 0,
        "queued": 2,
        "sent": 2,
        "failed": 0,
        "skipped": 0,
        "done": 2,
        "percent": 50,
        "rate": 0.2,  # 2 done in the 10 s since the start
        "eta_seconds": 10,  # 2 left at 0.2 per second
        "allowed": ["pause", "cancel"],
    }
    clock.advance(seconds=10)
    for record in records[2:]:
        record.record_sent(1, WORKER, clock())
    Caller(container).record_outcomes(records[2:])
    Caller(container).finish_batch(uuid.UUID(campaign["id"]), 0)
    done = dash.get(url).get_json()
    assert done["status"] == "completed" and done["final"] is True and done["allowed"] == []
    assert done["percent"] == 100 and done["eta_seconds"] is None and done["rate"] == 0.2  # 4 in 20 s


def test_an_unknown_campaign_is_a_404(dash):
    missing = uuid.uuid4()
    page = dash.get(f"/internal/campaigns/{missing}/")
    assert page.status_code == 404 and "No such campaign." in text_of(page)
    assert dash.get(f"/internal/campaigns/{missing}/progress.json").status_code == 404
    assert dash.get(f"/internal/campaigns/{missing}/edit/").status_code == 404
