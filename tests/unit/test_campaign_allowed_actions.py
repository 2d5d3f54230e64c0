"""allowed_actions(status) says exactly which commands the campaign accepts in that status."""

import pytest

from crm.write_model.campaigns import allowed_actions
from crm.write_model.errors import Conflict, IllegalTransition
from tests.unit.campaign_support import DETAILS, LATER, NOW, campaign_in, started_with_batches

STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled")
COMMANDS = {
    "edit": lambda c: c.change_details({**DETAILS, "name": "Renamed"}, "admin", NOW),
    "delete": lambda c: c.delete("admin", NOW),
    "run": lambda c: c.run("admin", NOW),
    "schedule": lambda c: c.schedule(LATER, "admin", NOW),
    "unschedule": lambda c: c.unschedule("admin", NOW),
    "pause": lambda c: c.pause("admin", NOW),
    "resume": lambda c: c.resume("admin", NOW),
    "cancel": lambda c: c.cancel("admin", NOW),
    "retry-failed": lambda c: c.requeue_failed([0], 1, "admin", NOW),  # one failed record
}


@pytest.mark.parametrize("status", STATUSES)
def test_allowed_actions_match_what_the_aggregate_accepts(status):
    accepted = set()
    for action, command in COMMANDS.items():
        campaign = campaign_in(status)
        try:
            command(campaign)
        except IllegalTransition:
            continue
        accepted.add(action)
    assert set(allowed_actions(status, failed=1)) == accepted


def test_final_statuses_allow_nothing_and_a_draft_allows_no_pause():
    assert allowed_actions("completed") == () and allowed_actions("cancelled") == ()
    assert allowed_actions("draft") == ("edit", "delete", "run", "schedule", "cancel")
    assert allowed_actions("scheduled") == ("run", "unschedule", "cancel")


def test_a_recurring_series_is_never_run_by_hand():
    assert allowed_actions("scheduled", recurring=True) == ("unschedule", "cancel")
    assert "run" in allowed_actions("scheduled")


def test_a_completed_campaign_with_failures_allows_one_retry():
    assert allowed_actions("completed", failed=2) == ("retry-failed",)
    assert allowed_actions("completed", failed=2, retried_failed=True) == ()
    assert allowed_actions("cancelled", failed=2) == ()
    campaign = started_with_batches(2)
    campaign.finish_batch(0, "worker", NOW)
    campaign.finish_batch(1, "worker", NOW)
    assert campaign.status == "completed"
    campaign.requeue_failed([1], 2, "admin", NOW)
    assert campaign.status == "running" and campaign.retried_failed and campaign.unfinished_batches == [1]
    campaign.finish_batch(1, "worker", NOW)
    assert campaign.status == "completed"
    with pytest.raises(Conflict, match="retried already"):
        campaign.requeue_failed([0], 1, "admin", NOW)
