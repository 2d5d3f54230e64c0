"""POST /api/campaigns/{id}/retry-failed/ and the dashboard's Retry failed: a completed campaign's
failed outreach queued again, once, each recipient keeping its one record."""

from __future__ import annotations

import re
import uuid

from tests.e2e.dashboard_support import text_of
from tests.e2e.e2e_support import CAMPAIGN_FIELDS, assert_error, completed_with_failures, when


def outreach(admin, campaign: dict) -> list[dict]:
    response = admin.get("/api/outreach-events/", query_string={"campaign": campaign["id"], "page_size": 100})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["results"]


def test_retry_failed_queues_the_failed_again_and_answers_202_running(admin, make, container, restaurant, clock):
    campaign = completed_with_failures(make, container, restaurant, failing=2, sent=3)
    clock.advance(minutes=5)

    response = admin.post(f"/api/campaigns/{campaign['id']}/retry-failed/")

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert set(body) == CAMPAIGN_FIELDS
    assert body["status"] == "running" and when(body["failed_retried_at"]) == clock.now
    assert body["completed_at"] is None
    assert body["stats"] == {**campaign["stats"], "failed": 0, "queued": 2}
    records = outreach(admin, campaign)
    assert len(records) == 5  # still one record per recipient
    assert sorted((r["status"], r["attempts"], r["error_message"]) for r in records) == [
        ("queued", 3, None),
        ("queued", 3, None),
        ("sent", 1, None),
        ("sent", 1, None),
        ("sent", 1, None),
    ]
    assert admin.get(f"/api/campaigns/{campaign['id']}/").get_json() == body


def test_retry_failed_is_refused_with_409_when_it_cannot_apply(admin, make, container, restaurant):
    nothing_failed = completed_with_failures(make, container, restaurant, failing=0, sent=1)
    response = admin.post(f"/api/campaigns/{nothing_failed['id']}/retry-failed/")
    assert_error(response, 409)
    assert "no failed outreach" in response.get_json()["message"]

    draft = make.campaign(restaurant)
    response = admin.post(f"/api/campaigns/{draft['id']}/retry-failed/")
    assert_error(response, 409)
    assert response.get_json()["message"] == "cannot retry-failed a campaign that is draft"
    assert admin.get(f"/api/campaigns/{draft['id']}/").get_json() == draft


def test_another_restaurants_campaign_is_404(make, container, restaurant, key_of):
    other = make.restaurant("Elsewhere")
    campaign = completed_with_failures(make, container, restaurant)

    assert_error(key_of(other).post(f"/api/campaigns/{campaign['id']}/retry-failed/"), 404)
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "completed"


def test_the_dashboard_offers_retry_failed_once_and_records_the_operator(dash, make, container, restaurant):
    campaign = completed_with_failures(make, container, restaurant, failing=1, sent=1)
    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    assert re.search(r'data-control="retry-failed"(?! hidden)', page)
    assert "Send again to the recipients whose message failed?" in page  # it asks first
    progress = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
    assert progress["allowed"] == ["retry-failed"] and progress["retried_failed"] is False

    response = dash.post(f"/internal/campaigns/{campaign['id']}/retry-failed/", follow_redirects=True)

    assert "Failed messages queued again: the campaign is running." in text_of(response)
    events = container.application.campaign(uuid.UUID(campaign["id"]))
    assert events.status == "running" and events.retried_failed
    progress = dash.get(f"/internal/campaigns/{campaign['id']}/progress.json").get_json()
    assert progress["retried_failed"] is True and "retry-failed" not in progress["allowed"]
    assert not re.search(
        r'data-control="retry-failed"(?! hidden)', text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    )
