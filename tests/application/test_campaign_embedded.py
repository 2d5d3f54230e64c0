"""A campaign runs to completion on the embedded worker (no broker: threads, memory transport)."""

import time

import pytest
from sqlalchemy import select

from crm.read_model.tables import outreach_events
from crm.workers.embedded import EmbeddedWorker
from crm.write_model.errors import IllegalTransition


@pytest.fixture
def embedded(container):
    worker = EmbeddedWorker(container).start()
    yield worker
    worker.stop()


def wait_for_status(container, campaign_id, status, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = container.campaign_queries.campaign(campaign_id, None)
        if row and row["status"] == status:
            return row
        time.sleep(0.1)
    pytest.fail(f"campaign not {status} after {timeout} s: {container.campaign_queries.campaign(campaign_id, None)}")


def test_a_1000_customer_campaign_completes_with_one_outreach_per_audience_customer(
    application, container, clock, embedded
):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    audience = {
        application.register_customer(restaurant_id, f"gone{i}@example.com", f"G{i}", actor="a", scope=None)
        for i in range(1000)
    }
    clock.advance(days=40)
    newcomers = {
        application.register_customer(restaurant_id, f"new{i}@example.com", actor="a", scope=None) for i in range(50)
    }
    campaign_id = application.create_campaign(
        restaurant_id,
        {
            "name": "Win back",
            "segment_type": "inactive_days",
            "segment_value": 30,
            "message_template": "Hi {first_name}",
        },
        actor="admin",
        scope=None,
    )
    application.run_campaign(campaign_id, actor="admin", scope=None)

    row = wait_for_status(container, campaign_id, "completed")
    # Check exactly one outreach record per audience customer, none for anyone else, all final.
    with container.engine.connect() as conn:
        records = conn.execute(
            select(outreach_events.c.customer_id, outreach_events.c.status).where(
                outreach_events.c.campaign_id == campaign_id
            )
        ).all()
    assert len(records) == 1000
    assert {r.customer_id for r in records} == audience and not newcomers & {r.customer_id for r in records}
    assert {r.status for r in records} == {"sent"}
    assert row["stats"] == {
        "audience": 1000,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 1000,
        "failed": 0,
        "skipped": 0,
    }
    # Check a campaign runs once.
    with pytest.raises(IllegalTransition):
        application.run_campaign(campaign_id, actor="admin", scope=None)


def test_an_empty_audience_completes_at_once(application, container, embedded):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    application.register_customer(restaurant_id, "a@example.com", actor="a", scope=None)
    campaign_id = application.create_campaign(
        restaurant_id,
        {"name": "Big spenders", "segment_type": "high_spenders", "segment_value": 1, "message_template": "Hi"},
        actor="admin",
        scope=None,
    )
    application.run_campaign(campaign_id, actor="admin", scope=None)
    row = wait_for_status(container, campaign_id, "completed", timeout=20)
    assert row["stats"]["audience"] == 0
