"""Dashboard controls: run, pause, resume and cancel as POST forms, recorded as the operator's."""

from __future__ import annotations

import uuid

from tests.e2e.dashboard_support import OPERATOR_EMAIL, actors_of, text_of
from tests.e2e.e2e_support import CAMPAIGN_STATUSES, CONTROLS, bring_to

# What each control does from each status; any other pair is refused.
RESULTS = {
    ("run", "draft"): "running",
    ("pause", "running"): "paused",
    ("resume", "paused"): "running",
    ("cancel", "draft"): "cancelled",
    ("cancel", "running"): "cancelled",
    ("cancel", "paused"): "cancelled",
}
DONE = {"run": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}
ACTOR = f"operator:{OPERATOR_EMAIL}"


def status_of(make, campaign) -> str:
    return make.get(f"/api/campaigns/{campaign['id']}/")["status"]


def test_every_control_from_every_status_acts_or_is_flashed_and_changes_nothing(dash, make, container, restaurant):
    for status in CAMPAIGN_STATUSES:
        for action in CONTROLS:
            campaign = bring_to(make, container, make.campaign(restaurant, name=f"{action} from {status}"), status)
            before = actors_of(container.application, campaign["id"])
            response = dash.post(f"/internal/campaigns/{campaign['id']}/{action}/", follow_redirects=True)
            assert response.status_code == 200 and response.request.path == f"/internal/campaigns/{campaign['id']}/"
            after = actors_of(container.application, campaign["id"])
            expected = RESULTS.get((action, status))
            if expected is None:
                refusal = (
                    "Not done: nothing to retry: this completed campaign has no failed outreach."
                    if (action, status) == ("retry-failed", "completed")
                    else f"Not done: cannot {action} a campaign that is {status}."
                )
                assert refusal in text_of(response)
                assert status_of(make, campaign) == status and after == before, (action, status)
            else:
                assert f"Campaign {DONE[action]}." in text_of(response)
                assert status_of(make, campaign) == expected, (action, status)
                # Check the command's event records the operator as its actor.
                assert after[: len(before)] == before and after[len(before)] == ACTOR, after


def test_a_control_without_the_csrf_token_is_refused_and_changes_nothing(dash, make, container, restaurant):
    for status, action in (("draft", "run"), ("running", "pause"), ("paused", "resume"), ("running", "cancel")):
        campaign = bring_to(make, container, make.campaign(restaurant), status)
        before = actors_of(container.application, campaign["id"])
        for token in (None, "forged-token"):
            path = f"/internal/campaigns/{campaign['id']}/{action}/"
            response = dash.post(path, csrf=False, data={} if token is None else {"csrf_token": token})
            assert response.status_code == 400, (action, token)
            assert "security token" in text_of(response)
        assert status_of(make, campaign) == status
        assert actors_of(container.application, campaign["id"]) == before


def test_a_control_on_an_unknown_campaign_is_a_404(dash):
    assert dash.post(f"/internal/campaigns/{uuid.uuid4()}/run/").status_code == 404


def test_controls_are_posts_only(dash, make, restaurant):
    campaign = make.campaign(restaurant)
    assert dash.get(f"/internal/campaigns/{campaign['id']}/run/").status_code == 405
    assert status_of(make, campaign) == "draft"
