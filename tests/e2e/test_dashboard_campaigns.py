"""Dashboard campaign pages: the list and its filters, the detail, its pager, the progress endpoint."""

from __future__ import annotations

import re
import uuid

from crm.write_model.outreach import outreach_id
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
    assert controls(draft) == {"edit", "run", "schedule", "cancel"}
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


def send(container, records, clock, seconds_apart: float = 1.0) -> None:
    """Record `records` as sent, one every `seconds_apart` seconds of the clock."""
    for record in records:
        clock.advance(seconds=seconds_apart)
        record.record_sent(1, WORKER, clock())
    Caller(container).record_outcomes(records)


def test_progress_json_gives_counts_percent_and_the_rate_of_the_last_sends_until_final(
    dash, make, container, restaurant, clock
):
    guests = [make.customer(restaurant) for _ in range(12)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    records = queue_outreach(make, container, campaign, guests)  # started now
    clock.advance(seconds=100)  # a slow start: the rate is measured over the last sends only
    send(container, records[:4], clock, seconds_apart=2)
    url = f"/internal/campaigns/{campaign['id']}/progress.json"
    assert dash.get(url).get_json() == {
        "status": "running",
        "final": False,
        "retried_failed": False,
        "recurring": False,
        "audience": 12,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 8,
        "sent": 4,
        "failed": 0,
        "skipped": 0,
        "done": 4,
        "percent": 33,
        "rate": 0.5,  # one every 2 s since the first of these sends (not 4 in 108 s)
        "eta_seconds": 16,  # 8 left at 0.5 per second
        "matching": None,
        "waiting": None,  # its restaurant has no quiet hours
        "allowed": ["pause", "cancel"],
    }
    # Check a failure counts as done: the estimate follows everything done, not the sends only.
    records[4].record_failed(3, "gave up", WORKER, clock())
    Caller(container).record_outcomes(records[4:5])
    assert dash.get(url).get_json()["eta_seconds"] == round(7 / (0.5 * 5 / 4))
    send(container, records[5:], clock)
    Caller(container).finish_batch(uuid.UUID(campaign["id"]), 0)
    done = dash.get(url).get_json()
    assert done["status"] == "completed" and done["final"] is True and done["allowed"] == ["retry-failed"]
    assert done["percent"] == 100 and done["eta_seconds"] is None and done["rate"] is None


def test_a_paused_campaign_has_no_rate_nor_estimate_and_a_resumed_one_measures_afresh(
    dash, make, container, restaurant, clock
):
    guests = [make.customer(restaurant) for _ in range(10)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    records = queue_outreach(make, container, campaign, guests)
    send(container, records[:4], clock)
    url = f"/internal/campaigns/{campaign['id']}/progress.json"
    page = f"/internal/campaigns/{campaign['id']}/"
    assert dash.get(url).get_json()["rate"] == 1.0

    make.control(campaign, "pause")  # another operator
    paused = dash.get(url).get_json()
    assert (paused["status"], paused["rate"], paused["eta_seconds"]) == ("paused", None, None)
    shown = text_of(dash.get(page))
    assert field(shown, "rate") == "\u2014" and field(shown, "eta") == "\u2014" and "per second" not in shown

    clock.advance(minutes=10)
    make.control(campaign, "resume")
    # Check just after the resume there is no estimate yet (not one from before the pause) ...
    resumed = dash.get(url).get_json()
    assert (resumed["status"], resumed["rate"], resumed["eta_seconds"]) == ("running", None, None)
    assert field(text_of(dash.get(page)), "eta") == "estimating\u2026"
    # ... then one from the sends since, not from the 10 minutes paused.
    send(container, records[4:8], clock, seconds_apart=0.5)
    resumed = dash.get(url).get_json()
    assert (resumed["rate"], resumed["eta_seconds"]) == (2.0, 1)
    assert field(text_of(dash.get(page)), "eta") == "about 1 s"


def test_a_pause_shorter_than_the_rates_window_is_not_measured_as_slow_sending(
    dash, make, container, restaurant, clock
):
    guests = [make.customer(restaurant) for _ in range(10)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    records = queue_outreach(make, container, campaign, guests)
    send(container, records[:4], clock)  # one a second
    make.control(campaign, "pause")
    clock.advance(seconds=5)  # shorter than the 10 s window the rate is measured over
    make.control(campaign, "resume")
    send(container, records[4:7], clock, seconds_apart=0.5)
    resumed = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
    # Check the rate is that of the 3 sends since the resume (2 a second), not of the 7 sends in
    # the window across the pause (6 intervals in 9.5 s), and the estimate follows it.
    assert (resumed["rate"], resumed["eta_seconds"]) == (2.0, 2)


def test_an_unknown_campaign_is_a_404(dash):
    missing = uuid.uuid4()
    page = dash.get(f"/internal/campaigns/{missing}/")
    assert page.status_code == 404 and "No such campaign." in text_of(page)
    assert dash.get(f"/internal/campaigns/{missing}/progress.json").status_code == 404
    assert dash.get(f"/internal/campaigns/{missing}/edit/").status_code == 404


def test_a_malformed_campaign_id_gets_the_dashboards_404_page(dash):
    for path in ("/internal/campaigns/not-a-uuid/", "/internal/campaigns/12345/edit/", "/internal/nowhere"):
        page = dash.get(path)
        assert page.status_code == 404 and page.mimetype == "text/html", path
        assert "There is no such page in the dashboard." in text_of(page) and 'href="/internal/campaigns/"' in text_of(
            page
        )
    # Check the JSON endpoints keep answering JSON, and a missing slash is still only a redirect.
    assert dash.get("/internal/campaigns/not-a-uuid/progress.json").is_json
    campaign_id = uuid.uuid4()
    response = dash.get(f"/internal/campaigns/{campaign_id}")
    assert response.status_code == 308 and response.headers["Location"].endswith(f"/internal/campaigns/{campaign_id}/")


def test_a_draft_shows_the_audience_that_matches_now_on_its_page_the_list_and_its_progress(
    dash, make, restaurant, clock, admin
):
    guests = [make.customer(restaurant) for _ in range(4)]
    assert admin.post(f"/api/customers/{guests[0]['id']}/unsubscribe/").status_code == 200
    clock.advance(days=31)
    make.customer(restaurant)  # registered since: not inactive for 30 days
    campaign = make.campaign(restaurant, name="Draft now")
    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    assert field(page, "audience") == "3 match now"
    assert "Fixed when it runs;" in page and field(page, "matching-unsubscribed") == "1"
    listed = text_of(dash.get("/internal/campaigns/"))
    assert field(listed[listed.index("Draft now") :], "audience") == "3 match now"
    progress = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
    assert progress["audience"] is None and progress["matching"] == {"count": 3, "unsubscribed": 1}
    # Check it follows the customers: one more matches a minute later.
    make.customer(restaurant)
    clock.advance(days=31)
    assert dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()["matching"]["count"] == 5


def test_the_list_searches_names_and_sorts_by_created_or_progress(dash, make, container, restaurant, clock):
    guests = [make.customer(restaurant) for _ in range(4)]
    clock.advance(days=31)
    half = make.campaign(restaurant, name="Spring half")
    clock.advance(seconds=1)
    quarter = make.campaign(restaurant, name="Spring quarter")
    clock.advance(seconds=1)
    make.campaign(restaurant, name="Autumn_draft 100%")
    for campaign, sent in ((half, 2), (quarter, 1)):
        records = queue_outreach(make, container, campaign, guests)
        send(container, records[:sent], clock)

    def listed(**query) -> list[str]:
        return re.findall(
            r'<a href="/internal/campaigns/[0-9a-f-]+/">([^<]+)</a>',
            text_of(dash.get("/internal/campaigns/", query_string=query)),
        )

    assert listed() == ["Autumn_draft 100%", "Spring quarter", "Spring half"]  # newest first
    assert listed(sort="progress") == ["Spring half", "Spring quarter", "Autumn_draft 100%"]
    assert listed(q="SPRING", sort="progress") == ["Spring half", "Spring quarter"]
    # Check LIKE's wildcards are taken literally.
    assert listed(q="_draft 100%") == ["Autumn_draft 100%"] and listed(q="g%q") == []
    assert listed(sort="bogus") == listed()
    page = text_of(dash.get("/internal/campaigns/", query_string={"q": "spring", "sort": "progress"}))
    assert 'value="spring"' in page and '<option value="progress" selected>' in page


def test_the_outreach_list_filters_by_customer_email_or_name_in_a_stable_order(
    dash, make, container, restaurant, clock
):
    names = [("Ann", "Lee"), ("Bob", "Annan"), ("Cy", "Young"), ("Dee", "Ray")]
    guests = [
        make.customer(restaurant, email=f"{first.lower()}@example.com", first_name=first, last_name=last)
        for first, last in names
    ]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    queue_outreach(make, container, campaign, guests)  # one batch: queued at the same moment
    path = f"/internal/campaigns/{campaign['id']}/"

    def emails(**query) -> list[str]:
        page = text_of(dash.get(path, query_string=query))
        return re.findall(r'<a href="/internal/customers/[0-9a-f-]+/">([^<]+)</a>', page)

    # Check records queued at one moment are in the order of their ids (the newest first, then by id).
    by_id = sorted(guests, key=lambda g: outreach_id(uuid.UUID(campaign["id"]), uuid.UUID(g["id"])), reverse=True)
    everyone = emails()
    assert everyone == [g["email"] for g in by_id]
    assert emails(customer="ANN") == [e for e in everyone if e in ("ann@example.com", "bob@example.com")]
    assert emails(customer="young") == ["cy@example.com"]
    assert emails(customer="@example.com", status="sent") == []
    page = text_of(dash.get(path, query_string={"customer": "ann"}))
    assert "2 records of customers matching “ann”" in page and "Bob Annan" in page


def test_a_finished_campaign_shows_its_results(dash, make, container, restaurant, clock, client):
    guests = [make.customer(restaurant) for _ in range(5)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    page = f"/internal/campaigns/{campaign['id']}/"
    records = queue_outreach(make, container, campaign, guests)
    assert 'id="results"' not in text_of(dash.get(page))  # running: no results yet
    for record in records[:3]:
        record.record_sent(1, WORKER, clock())
    records[3].record_failed(3, "gave up after 3 attempts: 421 busy", WORKER, clock())
    records[4].skip("frequency_capped", WORKER, clock())
    Caller(container).record_outcomes(records)
    Caller(container).finish_batch(uuid.UUID(campaign["id"]), 0)
    # Two recipients leave through the message's link (one twice, counted once), another
    # through the API (not a link), and one through another campaign's link.
    clock.advance(minutes=5)
    other = make.campaign(restaurant, name="Another")
    for guest, through in ((guests[0], campaign), (guests[2], campaign), (guests[2], campaign), (guests[3], other)):
        link = "/u/" + container.unsubscribe_links.token(uuid.UUID(guest["id"]), uuid.UUID(through["id"]))
        assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    make.admin.post(f"/api/customers/{guests[1]['id']}/unsubscribe/")

    shown = text_of(dash.get(page))
    results = shown[shown.index('id="results"') : shown.index("</section>", shown.index('id="results"'))]
    assert re.search(r"<dt[^>]*>Sent</dt><dd[^>]*>3 of 5</dd>", results)
    assert "1: gave up after 3 attempts: 421 busy" in results and "1: frequency_capped" in results
    assert "Unsubscribes it caused</dt>" in results
    assert field(results, "unsubscribes") == "2"
    assert "Duplicate as a new draft" in shown


def test_a_rule_drafts_audience_now_is_its_rules_on_its_page_the_list_and_its_progress(dash, make, restaurant, admin):
    regulars = [make.customer(restaurant) for _ in range(3)]
    make.customer(restaurant)  # no visit: not a regular
    for guest in regulars:
        make.visit(guest, 1_000)
    assert admin.post(f"/api/customers/{regulars[0]['id']}/unsubscribe/").status_code == 200
    rule = {"field": "visit_count", "op": "gte", "value": 1}
    own = admin.post(
        "/api/campaigns/",
        json={"restaurant": restaurant["id"], "name": "Rule now", "message_template": "Hi", "segment_rule": rule},
    ).get_json()
    segment = admin.post("/api/segments/", json={"restaurant": restaurant["id"], "name": "Regulars", "rule": rule})
    saved = admin.post(
        "/api/campaigns/",
        json={
            "restaurant": restaurant["id"],
            "name": "Saved now",
            "message_template": "Hi",
            "segment": segment.get_json()["id"],
        },
    ).get_json()
    listed = text_of(dash.get("/internal/campaigns/"))
    for campaign in (own, saved):
        page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
        assert field(page, "audience") == "2 match now"
        assert field(page, "matching-unsubscribed") == "1"
        assert field(listed[listed.index(campaign["name"]) :], "audience") == "2 match now"
        progress = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
        assert progress["matching"] == {"count": 2, "unsubscribed": 1}
    # Check a saved segment deleted since matches nobody (the campaign cannot run).
    assert admin.delete(f"/api/segments/{segment.get_json()['id']}/").status_code == 204
    progress = dash.get(f"/internal/campaigns/{saved['id']}/progress.json").get_json()
    assert progress["matching"] == {"count": 0, "unsubscribed": 0}
