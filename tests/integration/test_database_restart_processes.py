"""The database restarts under the whole stack: `crm serve`, `crm projector` and `crm worker` as
real processes on a PostgreSQL server of the test's own and a private Redis.

Restarted while the projector has a backlog, and while a campaign sends: the API answers 503
with Retry-After and a JSON body while it is down (never a 500), every process recovers without
a hand (none is restarted), nothing is applied or delivered twice, and the read tables equal a
fresh rebuild.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from crm import bootstrap
from crm.config import Settings
from crm.read_model.tables import customers, outreach_events
from tests.integration.outages import (
    Answers,
    SlowMailbox,
    Stack,
    VisitPoster,
    answered,
    ask,
    assert_every_503_said_when_to_retry,
    assert_no_tracebacks,
    probe_while_down,
    rebuilt_equals_live,
    until,
)
from tests.integration.test_projector_processes import RECONNECTING, assert_no_range_applied_twice
from tests.integration.workers import PROJECTIONS, VisitWriter, caught_up, positions
from tests.smtp_sinks import SinkController

EVERYONE = {"segment_type": "high_spenders", "segment_value": 0}  # every customer spends >= 0
# How long the database stays down at least: every process retries (about once a second) and
# fails at least once while it is away, as in a real restart.
DOWN_SECONDS = 3.0


@pytest.fixture
def database(private_pg) -> Settings:
    settings = Settings(database_url=private_pg.create_database("crm"), secret_key="restart-secret")
    bootstrap.migrate(settings)
    return settings


@pytest.fixture
def stack(database, broker, tmp_path):
    container = bootstrap.build(database)
    key = container.api_keys.issue("restart-admin", None)
    container.close()
    running = Stack(database, broker.url, tmp_path, key)
    yield running
    running.stop()


# -- during projection ---------------------------------------------------------------------


def test_the_projector_catches_up_by_itself_after_a_restart_that_found_it_behind(private_pg, database, stack):
    setup = bootstrap.build(database)  # inline: the rows are there before the processes start
    restaurant = setup.application.open_restaurant("Pizza Palace", actor="admin").id
    guests = [
        str(setup.application.register_customer(restaurant, f"guest{i}@example.com", actor="admin", scope=None).id)
        for i in range(8)
    ]
    setup.close()
    background = {"projection_mode": "background"}
    projector = stack.projector()
    until(lambda: projector.active_for() == PROJECTIONS, 30, stack, "the projector takes every projection")
    served = stack.serve(**background, read_your_writes_timeout=0.5)
    stack.worker(**background)
    writer = bootstrap.build(replace(database, projection_mode="background"))  # writes only
    answers = Answers()
    poster = VisitPoster(served, answers, guests)
    poster.start()
    try:
        until(lambda: answers.count("up", 201) >= 20, 30, stack, "visits over HTTP before the restart")

        # Check the restart finds the projector behind: its tracking rows are held (as by a
        # batch that takes long) while visits pile up in the log.
        holder_engine = create_engine(database.database_url, poolclass=NullPool)
        holder = holder_engine.connect()
        held = holder.execute(text("SELECT name FROM projection_tracking FOR UPDATE")).scalars().all()
        assert PROJECTIONS <= set(held)
        with VisitWriter(writer.application) as busy:
            until(
                lambda: writer.runner.head() - positions(writer)["customers"] >= 300,
                60,
                stack,
                "a backlog of 300 events",
            )
        writer.close()

        private_pg.stop()  # ends the holder's session too, and the projector's waiting batch
        answers.phase = "down"
        down_since = time.monotonic()
        holder.invalidate()
        holder_engine.dispose()
        until(
            lambda: (
                probe_while_down(served, answers, [f"/api/customers/{guests[0]}/", "/api/customers/"], [])
                and answers.count("down", 503) >= 5
                and time.monotonic() - down_since >= DOWN_SECONDS
            ),
            30,
            stack,
            "503s while the database is down",
        )

        private_pg.start()
        answers.phase = "back"
        until(lambda: answers.count("back", 201) >= 20, 60, stack, "visits over HTTP after the restart")
    finally:
        poster.stop.set()
        poster.join(timeout=120)
    assert not poster.gave_up, poster.gave_up
    assert not poster.is_alive()

    check = bootstrap.build(database)
    try:
        # Check the projector caught up with the backlog and everything since, by itself.
        until(lambda: caught_up(check), 60, stack, "the projector catches up after the restart")
        assert stack.exited() == [], stack.tails()
        log = projector.log()
        lost = RECONNECTING.search(log)
        assert lost, "the projector never noticed the outage"
        assert "projector active for" in log[lost.end() :]
        assert_no_range_applied_twice(projector)

        # Check the worker recovered too: a campaign started now completes.
        body = {"restaurant": str(restaurant), "name": "After", "message_template": "Hi", **EVERYONE}
        once = {"Idempotency-Key": uuid.uuid4().hex}
        campaign = until(lambda: answered(served, answers, "POST", "/api/campaigns/", body, once), 30, stack)
        path = f"/api/campaigns/{campaign['id']}/"
        until(lambda: answered(served, answers, "POST", f"{path}run/"), 30, stack, "the campaign started")
        finished = until(
            lambda: (c := answered(served, answers, "GET", path)) and c["status"] == "completed" and c,
            60,
            stack,
            "a campaign after the restart",
        )
        assert finished["stats"]["sent"] == len(guests)
        until(lambda: caught_up(check), 30, stack, "the projector catches up with the campaign")

        # Check nothing was applied twice: each customer's visits and spend are what was sent.
        with check.engine.connect() as conn:
            rows = {
                str(row.id): (row.visit_count, row.total_spend_cents)
                for row in conn.execute(select(customers.c.id, customers.c.visit_count, customers.c.total_spend_cents))
            }
        assert {guest: rows[guest] for guest in guests} == {
            guest: (poster.visits[guest], poster.spend[guest]) for guest in guests
        }
        busy_visits = Counter(str(busy.people[n % 5]) for n in range(busy.count))
        assert {str(p): rows[str(p)] for p in busy.people} == {
            str(p): (busy_visits[str(p)], 100 * busy_visits[str(p)]) for p in busy.people
        }
    finally:
        check.close()
    stack.stop()

    statuses = answers.statuses()
    assert set(statuses) <= {200, 201, 202, 503}, statuses
    assert_every_503_said_when_to_retry(answers)
    assert_no_tracebacks(stack)
    rebuilt_equals_live(database)


# -- during a campaign ---------------------------------------------------------------------


@pytest.fixture
def slow_mailbox():
    handler = SlowMailbox(delay=0.02)
    controller = SinkController(handler)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def test_a_campaign_sending_through_a_restart_completes_and_reaches_everyone_once(
    private_pg, database, stack, slow_mailbox
):
    size = 300  # two batches, sent at once by the worker's two pool processes
    setup = bootstrap.build(database)
    restaurant = setup.application.open_restaurant("Pizza Palace", actor="admin").id
    emails = [f"guest{i}@example.com" for i in range(size)]
    for i, email in enumerate(emails):
        setup.application.register_customer(restaurant, email, f"Guest{i}", actor="admin", scope=None)
    setup.close()
    # Inline projection (the default): each command projects its own events, and the worker's
    # projector thread catches up whatever an outage left behind.
    served = stack.serve()
    stack.worker(
        delivery_backend="smtp", smtp_host="127.0.0.1", smtp_port=slow_mailbox.port, smtp_from="crm@example.com"
    )
    answers = Answers()
    campaign = served.api(
        "POST",
        "/api/campaigns/",
        {"restaurant": str(restaurant), "name": "Win back", "message_template": "Hi {first_name}", **EVERYONE},
    )
    path = f"/api/campaigns/{campaign['id']}/"
    assert served.call("POST", f"{path}run/")[0] == 202
    until(lambda: len(slow_mailbox.received) >= 40, 60, stack, "the campaign sending")

    private_pg.stop()
    answers.phase = "down"
    received_by_then = len(slow_mailbox.received)
    assert received_by_then < size, "the campaign finished before the restart: the test proves nothing"
    newcomer = {"restaurant": str(restaurant), "email": "late@example.com"}
    down_since = time.monotonic()
    until(
        lambda: (
            probe_while_down(served, answers, [path, f"{path}events/"], [("/api/customers/", newcomer)])
            and time.monotonic() - down_since >= DOWN_SECONDS
        ),
        30,
        stack,
        "503s while the database is down",
    )

    private_pg.start()
    answers.phase = "back"

    def completed():
        status, answer = ask(served, answers, "GET", path)
        return answer if status == 200 and answer["status"] == "completed" else None

    done = until(completed, 120, stack, "the campaign completes after the restart")
    assert done["stats"] == {
        "audience": size,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": size,
        "failed": 0,
        "skipped": 0,
    }
    assert stack.exited() == [], stack.tails()
    check = bootstrap.build(database)
    try:
        # Check every recipient has exactly one outreach record, and it is final.
        with check.engine.connect() as conn:
            records = conn.execute(
                select(outreach_events.c.customer_id, outreach_events.c.status).where(
                    outreach_events.c.campaign_id == uuid.UUID(campaign["id"])
                )
            ).all()
        assert len(records) == size
        assert len({customer for customer, _ in records}) == size
        assert Counter(status for _, status in records) == {"sent": size}
    finally:
        check.close()

    # Check the sink reached everyone, each under one key only: a message sent again after
    # the restart carries the same Message-ID (the outreach id). Only the message each sending
    # process had in flight may go again (the dispatch markers tell what was sent before it).
    received = list(slow_mailbox.received)
    keys: dict[str, set[str]] = {}
    for to, message_id in received:
        keys.setdefault(to, set()).add(message_id)
    assert sorted(keys) == sorted(emails)
    assert {to: ids for to, ids in keys.items() if len(ids) > 1} == {}
    again = len(received) - size
    assert again <= 2, f"{again} messages sent again; at most one per sending process expected"

    assert_every_503_said_when_to_retry(answers)
    statuses = answers.statuses()
    assert set(statuses) <= {200, 201, 202, 503}, statuses
    stack.stop()
    assert "lost the database" in stack.logs()["worker.log"], "the worker never noticed the outage"
    assert_no_tracebacks(stack)
    rebuilt_equals_live(database)
