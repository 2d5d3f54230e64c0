"""Outcomes of records whose batch is no longer held in memory (a save of it failed, so the object
may be ahead of the log): the batch is read again from the store, by the campaign and number the
records name, and held again once saved."""

from crm.write_model.outreach import batch_id
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from tests.scenarios import planned_campaign


def test_records_whose_batch_is_not_held_are_recorded_on_the_batch_they_name(application, container, clock):
    _, campaign_id, _ = planned_campaign(application, 3)
    records = container.application.open_batch(campaign_id, 0)
    records[0].held.batch = None  # as a failed save leaves it, for every record read with it
    records[0].record_sent(1, WORKER, clock())
    records[1].record_failed(2, "mailbox full", WORKER, clock())

    container.application.record_outcomes(records[:2])

    stored = container.application.repository.get(batch_id(campaign_id, 0))
    assert [(r.status, r.attempts, r.error_message) for r in stored.records()] == [
        ("sent", 1, None),
        ("failed", 2, "mailbox full"),
        ("queued", 0, None),
    ]
    assert records[2].held.batch.version == stored.version
