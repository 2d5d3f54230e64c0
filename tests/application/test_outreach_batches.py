"""Outreach held by its batch, through the store: outcomes read back, a record final elsewhere is
not recorded twice, and batches opened by an earlier version (one aggregate per message) finish."""

from sqlalchemy import func, select

from crm.read_model.tables import campaigns, outreach_events
from crm.write_model.outreach import AudienceBatch, Outreach, batch_id
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER
from tests.scenarios import planned_campaign


def _statuses(container, campaign_id):
    with container.engine.connect() as conn:
        query = (
            select(outreach_events.c.status, func.count())
            .where(outreach_events.c.campaign_id == campaign_id)
            .group_by(outreach_events.c.status)
        )
        rows = dict(conn.execute(query).all())
        counts = conn.execute(
            select(campaigns.c.queued, campaigns.c.sent, campaigns.c.failed, campaigns.c.skipped).where(
                campaigns.c.id == campaign_id
            )
        ).one()
    return rows, dict(counts._mapping)


def test_outcomes_are_read_back_and_an_opened_batch_gives_only_the_rest(application, container, clock):
    _, campaign_id, customers = planned_campaign(application, 4)
    records = application.open_batch(campaign_id, 0)
    records[0].record_sent(1, WORKER, clock())
    records[1].record_failed(2, "mailbox full", WORKER, clock())
    application.record_outcomes(records[:2])

    events = list(application.events.get(batch_id(campaign_id, 0)))
    assert [type(e) for e in events] == [AudienceBatch.Planned, AudienceBatch.Opened, AudienceBatch.OutcomesRecorded]
    again = application.open_batch(campaign_id, 0)
    assert [r.customer_id for r in again] == customers[2:]
    stored = application.repository.get(batch_id(campaign_id, 0))
    assert [(r.status, r.attempts, r.error_message) for r in stored.records()[:2]] == [
        ("sent", 1, None),
        ("failed", 2, "mailbox full"),
    ]
    assert _statuses(container, campaign_id) == (
        {"sent": 1, "failed": 1, "queued": 2},
        {"queued": 2, "sent": 1, "failed": 1, "skipped": 0},
    )


def test_a_record_made_final_by_another_writer_is_not_recorded_twice(application, container, clock):
    _, campaign_id, _ = planned_campaign(application, 3)
    mine = application.open_batch(campaign_id, 0)
    theirs = application.open_batch(campaign_id, 0)  # a redelivered task, read at the same time
    theirs[0].record_sent(1, WORKER, clock())
    application.record_outcomes(theirs[:1])

    mine[0].record_failed(1, "timed out", WORKER, clock())
    mine[1].record_sent(1, WORKER, clock())
    application.record_outcomes(mine[:2])

    stored = application.repository.get(batch_id(campaign_id, 0))
    assert [r.status for r in stored.records()] == ["sent", "sent", "queued"]
    assert _statuses(container, campaign_id)[0] == {"sent": 2, "queued": 1}


def test_a_batch_opened_by_an_earlier_version_finishes_with_its_own_records(application, container, clock):
    restaurant_id, campaign_id, customers = planned_campaign(application, 3)
    batch = application.repository.get(batch_id(campaign_id, 0))
    legacy = [Outreach.queue(campaign_id, c, restaurant_id, WORKER, clock()) for c in customers]
    batch.mark_outreach_created(WORKER, clock())
    application.save(batch, *legacy)
    legacy[0].record_sent(1, WORKER, clock())
    application.record_outcomes(legacy[:1])

    records = application.open_batch(campaign_id, 0)
    assert all(isinstance(r, Outreach) for r in records)
    assert [r.customer_id for r in records] == customers[1:]
    for record in records:
        record.skip("campaign cancelled", WORKER, clock())
    application.record_outcomes(records)

    assert _statuses(container, campaign_id) == (
        {"sent": 1, "skipped": 2},
        {"queued": 0, "sent": 1, "failed": 0, "skipped": 2},
    )
