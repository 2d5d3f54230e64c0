"""Campaign controls: run, unschedule, pause, resume, cancel and retry-failed, every cell of the
transition table (retry-failed of a completed campaign with failures: tests/e2e/test_campaign_retry_failed.py;
schedule, which takes a time: tests/e2e/test_campaign_scheduling.py)."""

from __future__ import annotations

import threading
import uuid

import pytest

from tests.commands import Caller
from tests.e2e.e2e_support import (
    CAMPAIGN_FIELDS,
    CAMPAIGN_STATUSES,
    CONTROLS,
    STALE_HEADER,
    assert_conflict_names,
    assert_error,
    bring_to,
    completed_with_failures,
    wait_for_status,
    when,
)

# (status before, control) -> (HTTP status, status after); every cell not listed is a 409.
ALLOWED = {
    ("draft", "run"): (202, "running"),
    ("draft", "cancel"): (200, "cancelled"),
    ("scheduled", "run"): (202, "running"),
    ("scheduled", "unschedule"): (200, "draft"),
    ("scheduled", "cancel"): (200, "cancelled"),
    ("running", "pause"): (200, "paused"),
    ("running", "cancel"): (200, "cancelled"),
    ("paused", "resume"): (200, "running"),
    ("paused", "cancel"): (200, "cancelled"),
}
TABLE = [(status, control) for status in CAMPAIGN_STATUSES for control in CONTROLS]


def test_the_table_covers_every_status_and_control():
    assert len(TABLE) == 36 and set(ALLOWED) <= set(TABLE)


@pytest.mark.parametrize(("status", "control"), TABLE)
def test_transition(admin, make, container, restaurant, clock, status, control):
    campaign = bring_to(make, container, make.campaign(restaurant), status)
    path = f"/api/campaigns/{campaign['id']}/"
    clock.advance(minutes=5)

    response = admin.post(f"{path}{control}/")

    if (status, control) not in ALLOWED:
        # Check a refused control names the current status and changes nothing.
        assert_conflict_names(response, status)
        assert admin.get(path).get_json() == campaign
        return
    code, after = ALLOWED[(status, control)]
    assert response.status_code == code, response.get_json()
    assert STALE_HEADER not in response.headers
    body = response.get_json()
    assert set(body) == CAMPAIGN_FIELDS
    expected = {**campaign, "status": after, "scheduled_for": None}  # whatever leaves scheduled drops its time
    if control == "run":
        expected["started_at"] = body["started_at"]
        assert when(body["started_at"]) == clock.now
    assert body == expected
    assert admin.get(path).get_json() == body


@pytest.mark.parametrize("control", CONTROLS)
def test_a_repeated_control_is_409_naming_the_status(admin, make, container, restaurant, control):
    if control == "retry-failed":
        campaign = completed_with_failures(make, container, restaurant)
    else:
        start = {"run": "draft", "unschedule": "scheduled", "pause": "running", "resume": "paused", "cancel": "running"}
        start = start[control]
        campaign = bring_to(make, container, make.campaign(restaurant), start)
    path = f"/api/campaigns/{campaign['id']}/{control}/"

    first = admin.post(path)
    second = admin.post(path)

    assert first.status_code == (202 if control in ("run", "retry-failed") else 200), first.get_json()
    assert_conflict_names(second, first.get_json()["status"])
    assert admin.get(f"/api/campaigns/{campaign['id']}/").get_json() == first.get_json()


def test_started_at_is_kept_through_pause_and_resume(admin, make, restaurant, clock):
    campaign = make.campaign(restaurant)
    started = make.control(campaign, "run")
    for control in ("pause", "resume", "pause", "resume"):
        clock.advance(minutes=1)
        assert make.control(campaign, control)["started_at"] == started["started_at"]
    clock.advance(minutes=1)
    cancelled = make.control(campaign, "cancel")
    assert (cancelled["started_at"], cancelled["completed_at"]) == (started["started_at"], None)


def test_a_cancelled_draft_never_started(make, restaurant):
    cancelled = make.control(make.campaign(restaurant), "cancel")

    assert (cancelled["status"], cancelled["started_at"], cancelled["completed_at"]) == ("cancelled", None, None)


def test_completed_campaign_has_its_completion_time(make, container, restaurant, clock):
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    clock.advance(minutes=3)

    Caller(container).plan_audience(uuid.UUID(campaign["id"]), [])  # as the worker does: no one to reach
    done = make.get(f"/api/campaigns/{campaign['id']}/")

    assert done["status"] == "completed"

    assert when(done["completed_at"]) == clock.now
    assert done["stats"] == {
        "audience": 0,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
    }


@pytest.mark.parametrize("control", CONTROLS)
def test_control_of_an_unknown_campaign_is_404(admin, restaurant, control):
    assert_error(admin.post(f"/api/campaigns/{uuid.uuid4()}/{control}/"), 404)


@pytest.mark.parametrize("control", CONTROLS)
def test_controls_are_posts_only(admin, make, restaurant, control):
    campaign = make.campaign(restaurant)

    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = admin.request(method, f"/api/campaigns/{campaign['id']}/{control}/")
        assert_error(response, 405)
    assert make.get(f"/api/campaigns/{campaign['id']}/") == campaign


def test_a_restaurant_key_controls_its_own_campaigns(make, restaurant, key_of):
    own = key_of(restaurant)
    campaign = make.campaign(None, api=own)

    assert [make.control(campaign, c, api=own)["status"] for c in ("run", "pause", "resume", "cancel")] == [
        "running",
        "paused",
        "running",
        "cancelled",
    ]


def test_a_deleted_campaign_takes_no_control(admin, make, restaurant):
    campaign = make.campaign(restaurant)
    assert admin.delete(f"/api/campaigns/{campaign['id']}/").status_code == 204

    for control in CONTROLS:
        assert_error(admin.post(f"/api/campaigns/{campaign['id']}/{control}/"), 404)


def test_a_campaign_paused_before_any_worker_saw_it_completes_after_resume(
    admin, make, restaurant, clock, start_worker
):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    make.control(campaign, "pause")

    start_worker()
    make.control(campaign, "resume")
    done = wait_for_status(admin, campaign, "completed", timeout=60)  # a generous cap: the worker starts too

    assert done["stats"] == {
        "audience": 3,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 3,
        "failed": 0,
        "skipped": 0,
    }
    events = make.get(f"/api/campaigns/{campaign['id']}/events/")
    assert sorted(e["customer"] for e in events["results"]) == sorted(g["id"] for g in guests)


def concurrently(app, key: str, paths: list[str], threads: int = 8) -> list[tuple[str, int]]:
    """POST `paths` round-robin from `threads` threads released at once: (path, status) each."""
    barrier = threading.Barrier(threads)
    answers: list = [None] * threads

    def send(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(paths[n % len(paths)], headers={"Authorization": f"Bearer {key}"})
        answers[n] = (paths[n % len(paths)], response.status_code)

    workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers), "a request hung"
    return answers


def test_concurrent_runs_start_the_campaign_once(app, admin, make, restaurant):
    campaign = make.campaign(restaurant)

    answers = concurrently(app, admin.key, [f"/api/campaigns/{campaign['id']}/run/"])

    assert sorted(status for _, status in answers) == [202] + [409] * 7, answers
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "running"


def test_concurrent_pause_and_cancel_end_cancelled(app, admin, make, restaurant):
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    pause, cancel = (f"/api/campaigns/{campaign['id']}/{control}/" for control in ("pause", "cancel"))

    answers = concurrently(app, admin.key, [pause, cancel])

    # Check one cancel wins; a pause succeeds only if it came first, and the rest are 409s.
    cancels = sorted(status for path, status in answers if path == cancel)
    pauses = sorted(status for path, status in answers if path == pause)
    assert cancels == [200, 409, 409, 409], answers
    assert pauses in ([409] * 4, [200, 409, 409, 409]), answers
    assert make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "cancelled"
