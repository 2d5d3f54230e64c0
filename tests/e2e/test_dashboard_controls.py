"""Dashboard controls: run, unschedule, pause, resume and cancel as POST forms, recorded as the operator's."""

from __future__ import annotations

import uuid

from tests.e2e.dashboard_support import OPERATOR_EMAIL, actors_of, text_of
from tests.e2e.e2e_support import CAMPAIGN_STATUSES, CONTROLS, bring_to

# What each control does from each status; any other pair is refused.
RESULTS = {
    ("run", "draft"): "running",
    ("run", "scheduled"): "running",
    ("unschedule", "scheduled"): "draft",
    ("cancel", "scheduled"): "cancelled",
    ("pause", "running"): "paused",
    ("resume", "paused"): "running",
    ("cancel", "draft"): "cancelled",
    ("cancel", "running"): "cancelled",
    ("cancel", "paused"): "cancelled",
}
DONE = {
    "run": "Campaign started.",
    "unschedule": "Campaign unscheduled: it is a draft again",
    "pause": "Campaign paused.",
    "resume": "Campaign resumed.",
    "cancel": "Campaign cancelled.",
}
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
                assert DONE[action] in text_of(response)
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


def test_a_control_asked_for_by_get_is_a_confirmation_page_that_changes_nothing(
    dash, make, container, restaurant, admin
):
    """Without JavaScript, Run (and Cancel, Retry failed) opens this page; its POST does it."""
    for _ in range(3):
        make.customer(restaurant)
    unsubscribed = make.customer(restaurant)
    assert admin.post(f"/api/customers/{unsubscribed['id']}/unsubscribe/").status_code == 200
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=0)
    before = actors_of(container.application, campaign["id"])
    path = f"/internal/campaigns/{campaign['id']}/run/"
    page = dash.get(path)
    assert page.status_code == 200
    assert '<strong data-field="matching-customers">3 customers</strong> now?' in text_of(page)
    assert f'<form method="post" action="{path}">' in text_of(page)
    assert status_of(make, campaign) == "draft" and actors_of(container.application, campaign["id"]) == before
    # Check its POST is the control, and a control no longer allowed sends back with the reason.
    assert "Campaign started." in text_of(dash.post(path, follow_redirects=True))
    refused = dash.get(path, follow_redirects=True)
    assert refused.request.path == f"/internal/campaigns/{campaign['id']}/"
    assert "Not possible now: this campaign is running." in text_of(refused)
    cancel = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/cancel/"))
    assert "Cancel this campaign for good? Nothing more will be sent." in cancel


def test_the_page_asks_in_a_dialog_and_without_javascript_links_to_the_confirmation(dash, make, restaurant):
    make.customer(restaurant)
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=0)
    page = text_of(dash.get(f"/internal/campaigns/{campaign['id']}/"))
    run = f"/internal/campaigns/{campaign['id']}/run/"
    # Check Run submits a GET (the confirmation page) unless the script opens its dialog ...
    assert f'<form method="get" action="{run}" data-control="run" data-dialog="confirm-run">' in page
    # ... which asks the same question and posts the control, or closes without a script.
    dialog = page[page.index('<dialog id="confirm-run"') : page.index("</dialog>", page.index('id="confirm-run"'))]
    assert 'aria-labelledby="confirm-run-question"' in dialog and f'<form method="post" action="{run}">' in dialog
    assert '<strong data-field="matching-customers">1 customer</strong> now?' in dialog
    assert 'formmethod="dialog"' in dialog and ">Send now</button>" in dialog
    assert "<script>" not in page and " onclick=" not in page  # the CSP allows no inline script


def test_duplicate_creates_a_draft_with_the_same_settings_as_the_operators(dash, make, container, restaurant):
    original = bring_to(
        make,
        container,
        make.campaign(
            restaurant,
            name="N" * 195,
            segment_type="high_spenders",
            segment_value=5000,
            subject="{first_name}, a treat",
            message_template="Hi {first_name}",
        ),
        "completed",
    )
    response = dash.post(f"/internal/campaigns/{original['id']}/duplicate/", follow_redirects=True)
    assert response.status_code == 200 and "Draft created from" in text_of(response)
    copy_id = response.request.path.split("/")[3]
    assert copy_id != original["id"]
    copy = make.get(f"/api/campaigns/{copy_id}/")
    assert copy["status"] == "draft" and copy["name"] == ("Copy of " + "N" * 195)[:200]
    for name in ("restaurant", "segment_type", "segment_value", "subject", "message_template"):
        assert copy[name] == original[name], name
    assert actors_of(container.application, copy_id) == [ACTOR]
    assert make.get(f"/api/campaigns/{original['id']}/")["status"] == "completed"
    assert dash.get(f"/internal/campaigns/{original['id']}/duplicate/").status_code == 405
    assert dash.post(f"/internal/campaigns/{uuid.uuid4()}/duplicate/").status_code == 404
