"""Campaigns run by real `crm worker` processes on PostgreSQL and Redis."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select, text

from crm.locks import lock_key
from crm.read_model.tables import outreach_events
from crm.workers.delivery import SimulatedBackend
from crm.write_model.errors import IllegalTransition
from tests.integration.workers import WorkerProcess, smtp_sink, wait_until

MESSAGE = {"segment_type": "high_spenders", "segment_value": 0, "message_template": "Hi {first_name}"}


@pytest.fixture
def workers(settings, broker, tmp_path):
    started: list[WorkerProcess] = []

    def start(pool: str | None = None, **env) -> WorkerProcess:
        worker = WorkerProcess(settings, broker.url, tmp_path / f"worker-{len(started)}.log", **env).start(pool=pool)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def audience_of(application, size: int):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customers = {
        application.register_customer(restaurant_id, f"c{i}@example.com", f"C{i}", actor="a", scope=None)
        for i in range(size)
    }
    return restaurant_id, customers


def start_campaign(application, restaurant_id) -> object:
    campaign_id = application.create_campaign(restaurant_id, {"name": "Win back", **MESSAGE}, actor="a", scope=None)
    application.run_campaign(campaign_id, actor="admin", scope=None)
    return campaign_id


def stats(container, campaign_id) -> dict:
    container.runner.catch_up()
    return container.campaign_queries.campaign(campaign_id, None)


def outreach_rows(container, campaign_id):
    with container.engine.connect() as conn:
        return conn.execute(
            select(outreach_events.c.customer_id, outreach_events.c.status).where(
                outreach_events.c.campaign_id == campaign_id
            )
        ).all()


def sending(container, campaign_id) -> bool:
    """Whether a worker is sending one of the campaign's batches: `send_batch` holds the batch's
    advisory lock from before it reads the campaign's status until its last outcomes are saved."""
    batches = container.application.campaign(campaign_id).batch_count
    keys = [lock_key(f"crm:batch:{campaign_id}:{number}") for number in range(batches)]
    with container.engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND ((classid::bigint << 32) | objid::bigint) = ANY(:keys)"
            ),
            {"keys": keys},
        ).scalar_one()
    return held > 0


def outreach_attempts(container, campaign_id) -> dict:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(outreach_events.c.customer_id, outreach_events.c.attempts).where(
                outreach_events.c.campaign_id == campaign_id
            )
        ).all()
    return dict(rows)


def completed(container, campaign_id):
    row = stats(container, campaign_id)
    return row if row["status"] == "completed" else None


@pytest.mark.parametrize("pool", [None, "threads"])
def test_a_1000_customer_campaign_completes_on_a_real_worker(application, container, workers, pool):
    restaurant_id, customers = audience_of(application, 1000)
    outsider = application.open_restaurant("Elsewhere", actor="admin")
    application.register_customer(outsider, "other@example.com", actor="a", scope=None)
    worker = workers(pool)
    campaign_id = start_campaign(application, restaurant_id)

    row = wait_until(lambda: completed(container, campaign_id), 90, message=worker.log())
    rows = outreach_rows(container, campaign_id)
    assert len(rows) == 1000 and {r.customer_id for r in rows} == customers
    assert {r.status for r in rows} == {"sent"}
    assert row["stats"] == {
        "audience": 1000,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 1000,
        "failed": 0,
        "skipped": 0,
    }
    with pytest.raises(IllegalTransition):
        application.run_campaign(campaign_id, actor="admin", scope=None)


def test_a_batch_ending_on_a_flush_boundary_completes_with_a_background_projector(application, container, workers):
    """200 customers: one batch, two full flushes, then an empty last one, which once failed on
    PostgreSQL in background mode (the batch never finished; the campaign stayed running)."""
    restaurant_id, customers = audience_of(application, 200)
    worker = workers(PROJECTION_MODE="background")
    campaign_id = start_campaign(application, restaurant_id)

    row = wait_until(lambda: completed(container, campaign_id), 60, message=worker.log())
    assert row["stats"] == {
        "audience": 200,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 200,
        "failed": 0,
        "skipped": 0,
    }
    assert {r.customer_id for r in outreach_rows(container, campaign_id)} == customers
    assert "Traceback" not in worker.log()


@pytest.mark.parametrize("pool", [None, "threads"])
def test_pause_holds_the_sent_count_and_resume_finishes_without_duplicates(application, container, workers, pool):
    restaurant_id, customers = audience_of(application, 400)
    worker = workers(pool, delivery_backend="simulated", simulated_latency_ms=20)
    campaign_id = start_campaign(application, restaurant_id)

    wait_until(lambda: stats(container, campaign_id)["stats"]["sent"] >= 100, 60, message=worker.log())
    wait_until(lambda: sending(container, campaign_id), 60, 0.02, message=worker.log())  # what the pause stops
    application.pause_campaign(campaign_id, actor="admin", scope=None)
    # Check once no worker sends any of its batches, the sent count stays constant for 5 s.
    wait_until(lambda: not sending(container, campaign_id), 60, 0.05, message=worker.log())
    held = stats(container, campaign_id)["stats"]["sent"]
    assert held < 400
    stopped_at = time.monotonic()
    while time.monotonic() - stopped_at < 5:
        assert stats(container, campaign_id)["stats"]["sent"] == held
        time.sleep(0.25)

    application.resume_campaign(campaign_id, actor="admin", scope=None)
    row = wait_until(lambda: completed(container, campaign_id), 60, message=worker.log())
    assert row["stats"]["sent"] == 400
    rows = outreach_rows(container, campaign_id)
    assert len(rows) == 400 and {r.customer_id for r in rows} == customers
    report = SimulatedBackend(container.engine).report()
    assert report["duplicate_deliveries"] == 0 and report["messages"] == 400
    assert report["repeated_attempts"] == 0  # nothing crashed: nothing was ever sent twice


def test_cancel_stops_a_running_campaign(application, container, workers):
    restaurant_id, _ = audience_of(application, 400)
    worker = workers(delivery_backend="simulated", simulated_latency_ms=20)
    campaign_id = start_campaign(application, restaurant_id)
    wait_until(lambda: stats(container, campaign_id)["stats"]["sent"] >= 50, 60, message=worker.log())
    wait_until(lambda: sending(container, campaign_id), 60, 0.02, message=worker.log())  # what the cancel stops
    application.cancel_campaign(campaign_id, actor="admin", scope=None)
    # Check once no worker sends any of its batches, the campaign stays cancelled with a constant
    # sent count for 2 s.
    wait_until(lambda: not sending(container, campaign_id), 60, 0.05, message=worker.log())
    held = stats(container, campaign_id)["stats"]["sent"]
    stopped_at = time.monotonic()
    while time.monotonic() - stopped_at < 2:
        row = stats(container, campaign_id)
        assert row["status"] == "cancelled" and row["stats"]["sent"] == held < 400
        time.sleep(0.25)
    # Check the records of the batches being sent when the cancel came say why they never went out
    # (a batch no worker had opened yet has no records at all).
    records = outreach_rows(container, campaign_id)
    assert row["stats"]["queued"] == 0 and {r.status for r in records} == {"sent", "skipped"}
    assert row["stats"]["sent"] + row["stats"]["skipped"] == len(records)


@pytest.mark.parametrize("pool", [None, "threads"])
def test_kill_9_of_the_worker_group_mid_campaign_then_a_new_worker_completes_it(application, container, workers, pool):
    restaurant_id, customers = audience_of(application, 1000)
    first = workers(pool, delivery_backend="simulated", simulated_latency_ms=5)
    campaign_id = start_campaign(application, restaurant_id)
    wait_until(lambda: stats(container, campaign_id)["stats"]["sent"] >= 200, 60, message=first.log())
    first.kill_group()
    assert stats(container, campaign_id)["status"] == "running"

    second = workers(delivery_backend="simulated", simulated_latency_ms=5)
    row = wait_until(lambda: completed(container, campaign_id), 60, message=second.log())
    rows = outreach_rows(container, campaign_id)
    assert len(rows) == 1000 and {r.customer_id for r in rows} == customers
    assert row["stats"]["sent"] == 1000
    report = SimulatedBackend(container.engine).report()
    assert report["duplicate_deliveries"] == 0
    # Repeated attempts: at most the messages in flight when the group died, one per pool
    # process or thread (the dispatch markers tell the new worker what was sent but not yet
    # recorded).
    assert report["repeated_attempts"] <= 2


def test_kill_9_mid_campaign_over_smtp_sends_again_at_most_one_message_per_sending_process(
    application, container, workers
):
    restaurant_id, customers = audience_of(application, 1500)
    addresses = {f"c{i}@example.com" for i in range(1500)}
    with smtp_sink() as mailbox:
        smtp = {"delivery_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": mailbox.port}
        first = workers(**smtp)
        campaign_id = start_campaign(application, restaurant_id)
        wait_until(lambda: len(mailbox.messages) >= 300, 90, interval=0.02, message=first.log())
        first.kill_group()
        received_before = len(mailbox.messages)
        assert received_before < 1500 and stats(container, campaign_id)["status"] == "running"

        second = workers(**smtp)
        row = wait_until(lambda: completed(container, campaign_id), 120, message=second.log())
        received = list(mailbox.messages)

    # Check every recipient got the message, and at most two (the pool's two processes) twice.
    per_address = Counter(str(message["To"]) for message in received)
    assert set(per_address) == addresses
    twice = {address: n for address, n in per_address.items() if n > 1}
    assert len(received) - 1500 <= 2 and set(twice.values()) <= {2}, twice
    # A message sent twice carries the same Message-ID both times: the outreach id.
    ids = {str(message["To"]): set() for message in received}
    for message in received:
        ids[str(message["To"])].add(message["Message-ID"])
    assert all(len(found) == 1 for found in ids.values())
    assert row["stats"]["sent"] == 1500 and row["stats"]["queued"] == 0
    # A message in flight at the kill (received or not) is recorded with both attempts.
    attempts = sorted(outreach_attempts(container, campaign_id).values())
    assert len(twice) <= attempts.count(2) <= 2 and set(attempts) <= {1, 2}


def test_retry_failed_sends_again_to_the_refused_once_they_accept(application, container, workers):
    restaurant_id, customers = audience_of(application, 300)
    with smtp_sink() as mailbox:
        mailbox.refused = {"c7@example.com", "c250@example.com"}
        worker = workers(delivery_backend="smtp", smtp_host="127.0.0.1", smtp_port=mailbox.port)
        campaign_id = start_campaign(application, restaurant_id)
        row = wait_until(lambda: completed(container, campaign_id), 90, message=worker.log())
        assert (row["stats"]["sent"], row["stats"]["failed"]) == (298, 2)

        mailbox.refused = set()
        application.retry_failed(campaign_id, actor="admin", scope=None)
        row = wait_until(lambda: completed(container, campaign_id), 60, message=worker.log())
        received = [str(message["To"]) for message in mailbox.messages]

    assert (row["stats"]["sent"], row["stats"]["failed"], row["stats"]["queued"]) == (300, 0, 0)
    assert len(received) == 300 and set(received) == {f"c{i}@example.com" for i in range(300)}
    attempts = sorted(outreach_attempts(container, campaign_id).values())
    assert attempts == [1] * 298 + [2, 2]  # the retry counted on from the refused attempt


def test_broker_outage_keeps_the_api_up_and_the_campaign_completes_after(
    application, container, admin, broker, workers
):
    restaurant_id, _ = audience_of(application, 50)
    worker = workers()
    wait_until(lambda: b"ready" in worker.log_path.read_bytes(), 30, message=worker.log())
    broker.stop()
    campaign_id = admin.post(
        "/api/campaigns/", json={"restaurant": str(restaurant_id), "name": "During outage", **MESSAGE}
    ).json["id"]
    # Check every API call answers 2xx while the broker is down.
    assert admin.post(f"/api/campaigns/{campaign_id}/run/").status_code == 202
    assert admin.post(f"/api/campaigns/{campaign_id}/pause/").status_code == 200
    assert admin.post(f"/api/campaigns/{campaign_id}/resume/").status_code == 200
    assert admin.get(f"/api/campaigns/{campaign_id}/").status_code == 200
    assert admin.get(f"/api/campaigns/{campaign_id}/events/").status_code == 200
    assert admin.get("/api/customers/").status_code == 200
    time.sleep(2)
    broker.start()
    row = wait_until(lambda: completed(container, campaign_id), 60, message=worker.log())
    assert row["stats"]["sent"] == 50


def test_the_worker_refuses_to_start_without_a_broker(settings):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "crm", "worker"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "CELERY_BROKER_URL" in result.stderr


def test_the_worker_refuses_sqlite(tmp_path):
    import subprocess
    import sys

    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/crm.sqlite3",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "crm", "worker"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and "needs PostgreSQL" in result.stderr
