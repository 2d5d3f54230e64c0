"""Outreach outcomes reach the read table whatever mix a batch holds (the worker's steps, driven by hand)."""

from sqlalchemy import select

from crm.read_model.tables import outreach_events
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from tests.scenarios import planned_campaign


def _running_campaign_with_open_batch(application, clock, size):
    _, campaign_id, _ = planned_campaign(application, size)
    return campaign_id, application.open_batch(campaign_id, 0)


def _rows(container, campaign_id):
    with container.engine.connect() as conn:
        query = select(outreach_events.c.status, outreach_events.c.sent_at, outreach_events.c.error_message).where(
            outreach_events.c.campaign_id == campaign_id
        )
        return conn.execute(query).all()


def test_a_batch_of_skips_only_is_projected(application, container, clock):
    # Every sent_at in the bulk update is NULL here, which PostgreSQL once typed as text and refused.
    campaign_id, records = _running_campaign_with_open_batch(application, clock, 3)
    for record in records:
        record.skip("campaign cancelled", WORKER, clock())
    application.record_outcomes(records)

    rows = _rows(container, campaign_id)
    assert [(r.status, r.sent_at, r.error_message) for r in rows] == [("skipped", None, "campaign cancelled")] * 3


def test_a_mixed_batch_is_projected_per_record(application, container, clock):
    campaign_id, records = _running_campaign_with_open_batch(application, clock, 3)
    sent, failed, skipped = records
    sent.record_sent(1, WORKER, clock())
    failed.record_failed(3, "mailbox full", WORKER, clock())
    skipped.skip("customer removed since the campaign started", WORKER, clock())
    application.record_outcomes(records)

    rows = sorted(_rows(container, campaign_id), key=lambda r: r.status)
    assert [r.status for r in rows] == ["failed", "sent", "skipped"]
    assert rows[0].sent_at is None and rows[0].error_message == "mailbox full"
    assert rows[1].sent_at is not None and rows[1].error_message is None
    assert rows[2].sent_at is None
