"""retry-failed: a completed campaign's failed outreach is queued again, once, and sent by the same
sender; each recipient keeps exactly one record, whose attempts count on from the first round."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crm.cli import main
from crm.workers.delivery import PermanentDeliveryError
from crm.workers.sender import BatchSender
from crm.write_model.errors import Conflict, IllegalTransition
from tests.application.test_delivery_retries import outreach_by_address
from tests.application.test_dispatch_markers import RecordingBackend
from tests.scenarios import planned_campaign, snapshot_tables

REFUSED = PermanentDeliveryError("550 mailbox unavailable")


def completed_with_failures(application, container, size: int = 5, failing=("c1@example.com", "c3@example.com")):
    _, campaign_id, customers = planned_campaign(application, size)
    BatchSender(container, RecordingBackend(fail=dict.fromkeys(failing, REFUSED))).send(campaign_id, 0)
    assert container.campaign_queries.campaign(campaign_id, None)["status"] == "completed"
    return campaign_id, customers


def stats(container, campaign_id) -> tuple:
    row = container.campaign_queries.campaign(campaign_id, None)
    return row["status"], row["stats"]["sent"], row["stats"]["failed"], row["stats"]["queued"]


def test_the_failed_are_queued_again_and_only_they_are_sent(application, container):
    campaign_id, customers = completed_with_failures(application, container)

    application.retry_failed(campaign_id, actor="admin", scope=None)

    # Check the campaign runs again with the two failures queued, the sent ones untouched.
    assert stats(container, campaign_id) == ("running", 3, 0, 2)
    row = container.campaign_queries.campaign(campaign_id, None)
    assert row["completed_at"] is None and row["failed_retried_at"] is not None
    records = outreach_by_address(container, campaign_id, customers)
    assert records["c1@example.com"] == ("queued", 1, None) and records["c3@example.com"] == ("queued", 1, None)
    assert records["c0@example.com"] == ("sent", 1, None)
    assert container.campaign_queries.campaigns_needing_work(None) == [(campaign_id, True, [0])]

    again = RecordingBackend()
    assert BatchSender(container, again).send(campaign_id, 0) is True

    assert again.sent == ["c1@example.com", "c3@example.com"]
    records = outreach_by_address(container, campaign_id, customers)
    assert len(records) == 5  # one record per recipient, still
    assert records["c1@example.com"] == ("sent", 2, None) and records["c3@example.com"] == ("sent", 2, None)
    assert stats(container, campaign_id) == ("completed", 5, 0, 0)


def test_a_retry_that_fails_again_counts_every_attempt_and_completes(application, container):
    campaign_id, customers = completed_with_failures(application, container, failing=("c1@example.com",))
    application.retry_failed(campaign_id, actor="admin", scope=None)

    BatchSender(container, RecordingBackend(fail={"c1@example.com": PermanentDeliveryError("554 rejected")})).send(
        campaign_id, 0
    )

    assert outreach_by_address(container, campaign_id, customers)["c1@example.com"] == ("failed", 2, "554 rejected")
    assert stats(container, campaign_id) == ("completed", 4, 1, 0)


def test_failures_are_retried_once(application, container):
    campaign_id, _ = completed_with_failures(application, container)
    application.retry_failed(campaign_id, actor="admin", scope=None)
    BatchSender(container, RecordingBackend(fail={"c1@example.com": REFUSED})).send(campaign_id, 0)
    assert stats(container, campaign_id) == ("completed", 4, 1, 0)

    with pytest.raises(Conflict, match="retried already"):
        application.retry_failed(campaign_id, actor="admin", scope=None)


def test_only_a_completed_campaign_with_failures_can_retry(application, container):
    _, running, _ = planned_campaign(application, 2)
    with pytest.raises(IllegalTransition, match="cannot retry-failed a campaign that is running"):
        application.retry_failed(running, actor="admin", scope=None)

    BatchSender(container, RecordingBackend()).send(running, 0)
    with pytest.raises(Conflict, match="nothing to retry: this completed campaign has no failed outreach"):
        application.retry_failed(running, actor="admin", scope=None)
    assert stats(container, running) == ("completed", 2, 0, 0)


def test_a_rebuild_gives_the_same_tables_after_a_retry(application, container, settings):
    campaign_id, _ = completed_with_failures(application, container)
    application.retry_failed(campaign_id, actor="admin", scope=None)
    BatchSender(container, RecordingBackend(fail={"c3@example.com": REFUSED})).send(campaign_id, 0)
    incremental = snapshot_tables(container)

    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )

    assert result.exit_code == 0, result.output
    assert snapshot_tables(container) == incremental


def test_one_projection_batch_holding_the_failure_the_retry_and_the_new_outcome_counts_right(application, container):
    # Events projected together (a background projector's batch): the record changes three times.
    campaign_id, customers = completed_with_failures(application, container, failing=("c1@example.com",))
    container.application.retry_failed(campaign_id, actor="admin", scope=None)
    BatchSender(container, RecordingBackend()).send(campaign_id, 0)

    result = CliRunner().invoke(main, ["projections", "rebuild"], env=_env(container))

    assert result.exit_code == 0, result.output
    assert stats(container, campaign_id) == ("completed", 5, 0, 0)
    assert outreach_by_address(container, campaign_id, customers)["c1@example.com"] == ("sent", 2, None)


def _env(container) -> dict:
    return {"DATABASE_URL": container.settings.database_url, "SECRET_KEY": container.settings.secret_key}
