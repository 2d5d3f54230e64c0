"""allowed_actions(status) says exactly which commands the campaign accepts in that status."""

import pytest

from crm.write_model.campaigns import allowed_actions
from crm.write_model.errors import IllegalTransition
from tests.unit.campaign_support import DETAILS, NOW, campaign_in

STATUSES = ("draft", "running", "paused", "completed", "cancelled")
COMMANDS = {
    "edit": lambda c: c.change_details({**DETAILS, "name": "Renamed"}, "admin", NOW),
    "delete": lambda c: c.delete("admin", NOW),
    "run": lambda c: c.run("admin", NOW),
    "pause": lambda c: c.pause("admin", NOW),
    "resume": lambda c: c.resume("admin", NOW),
    "cancel": lambda c: c.cancel("admin", NOW),
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
    assert set(allowed_actions(status)) == accepted


def test_final_statuses_allow_nothing_and_a_draft_allows_no_pause():
    assert allowed_actions("completed") == () and allowed_actions("cancelled") == ()
    assert allowed_actions("draft") == ("edit", "delete", "run", "cancel")
