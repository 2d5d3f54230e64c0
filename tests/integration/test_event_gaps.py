"""Gaps in notification ids: a slow writer delays followers but never loses them an event, a
rolled-back insert's gap is passed at once, and a writer stuck on the table lock gives up."""

import threading
from dataclasses import replace
from uuid import uuid4

import pytest
from sqlalchemy import select, text

from crm import bootstrap
from crm.read_model.tables import restaurants
from crm.write_model.errors import EventStoreBusy
from crm.write_model.restaurants import Restaurant
from tests.integration.workers import wait_until


@pytest.fixture
def writer(settings, container, clock):
    # A writer that leaves projection to followers (an inline writer would apply its events in
    # its own transaction, holding the projections' positions until it commits). The lock
    # timeout is long: here a writer queues behind the lock for as long as the test holds it.
    built = bootstrap.build(
        replace(settings, projection_mode="background", event_store_lock_timeout=120.0), clock=clock
    )
    yield built
    built.close()


def restaurant_names(container) -> set[str]:
    with container.engine.connect() as conn:
        return set(conn.execute(select(restaurants.c.name)).scalars())


def save_and_hold(application, name: str, inserted: threading.Event, release: threading.Event) -> None:
    """Insert one event (taking the events table lock) and keep the transaction open until `release`."""
    datastore = application.factory.datastore
    with datastore.transaction(commit=True):
        application.save(Restaurant.open(uuid4(), name, "UTC", "slow-writer", application.clock()))
        inserted.set()
        release.wait(60)


def writers_waiting_for_the_events_table(container) -> int:
    with container.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'crm_events'::regclass"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar_one()


def test_a_writer_holding_the_lock_delays_but_never_loses_an_event_for_a_follower(writer, container):
    app = writer.application
    app.open_restaurant("Before", actor="admin")
    inserted, release = threading.Event(), threading.Event()
    slow = threading.Thread(target=save_and_hold, args=(app, "Slow", inserted, release))
    slow.start()
    try:
        assert inserted.wait(30), "the slow writer never inserted"
        # The slow writer now holds the lock with its event inserted, not committed.
        failures: list[BaseException] = []
        fast = threading.Thread(target=_recording(failures, lambda: app.open_restaurant("Fast", actor="admin")))
        fast.start()
        wait_until(lambda: writers_waiting_for_the_events_table(container) == 1, 30, 0.02, "the fast writer queues")
        # Check a follower catching up all the while sees neither the slow event nor the one queued behind it.
        rounds = 0
        while rounds < 10:
            container.runner.catch_up()
            rounds += 1
            assert restaurant_names(container) == {"Before"}
            assert writers_waiting_for_the_events_table(container) == 1  # the fast writer still waits
    finally:
        release.set()
    slow.join(30)
    fast.join(30)
    assert not slow.is_alive() and not fast.is_alive() and failures == []
    container.runner.catch_up()

    assert rounds > 5  # the follower really ran while the lock was held
    assert restaurant_names(container) == {"Before", "Slow", "Fast"}
    ids = {name: id for id, name in _event_ids(container)}
    assert ids["Fast"] > ids["Slow"]  # the queued writer got the later id and committed after


def _recording(failures: list, work):
    def run():
        try:
            work()
        except BaseException as error:  # seen by the test's thread, not lost with this one
            failures.append(error)

    return run


def test_a_rolled_back_insert_leaves_a_gap_that_is_passed_at_once(writer, container):
    app = writer.application
    app.open_restaurant("Before", actor="admin")
    with pytest.raises(RuntimeError):
        with app.factory.datastore.transaction(commit=True):
            app.save(Restaurant.open(uuid4(), "Rolled back", "UTC", "admin", app.clock()))
            raise RuntimeError("the command failed after inserting")
    app.open_restaurant("After", actor="admin")
    ids = [id for id, _ in _event_ids(container)]
    assert ids[-1] - ids[0] == 2 and len(ids) == 2  # the rolled-back id is missing for good

    # Check one catch-up, which never sleeps, goes past the gap to the head.
    assert container.runner.catch_up() >= 2
    assert restaurant_names(container) == {"Before", "After"}
    with container.engine.connect() as conn:
        position = conn.execute(text("SELECT position FROM projection_tracking WHERE name = 'restaurants'")).scalar()
    assert position == ids[-1]


def test_a_writer_waiting_longer_than_the_lock_timeout_gives_up(settings, container, clock):
    impatient = bootstrap.build(replace(settings, event_store_lock_timeout=0.3), clock=clock)
    try:
        blocker = container.engine.connect()
        blocker.execute(text("LOCK TABLE crm_events IN EXCLUSIVE MODE"))
        try:
            with pytest.raises(EventStoreBusy):
                impatient.application.open_restaurant("Stuck", actor="admin")
        finally:
            blocker.rollback()
            blocker.close()
        # Check the next command goes through once the lock is free.
        impatient.application.open_restaurant("Free", actor="admin")
    finally:
        impatient.close()


def test_a_stuck_event_store_answers_503_with_retry_after(settings, container, clock):
    from crm.http import create_app

    impatient = bootstrap.build(replace(settings, event_store_lock_timeout=0.3), clock=clock)
    try:
        client = create_app(container=impatient).test_client()
        key = impatient.api_keys.issue("ops", None)
        blocker = container.engine.connect()
        blocker.execute(text("LOCK TABLE crm_events IN EXCLUSIVE MODE"))
        try:
            response = client.post(
                "/api/restaurants/", json={"name": "Stuck"}, headers={"Authorization": f"Bearer {key}"}
            )
        finally:
            blocker.rollback()
            blocker.close()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert "retry" in response.get_json()["message"]
    finally:
        impatient.close()


def _event_ids(container) -> list[tuple[int, str]]:
    """(notification id, restaurant name) of every Restaurant.Opened event, in id order."""
    app = container.application
    found = []
    for notification in app.recorder.select_notifications(1, 100):
        event = app.mapper.to_domain_event(notification)
        if isinstance(event, Restaurant.Opened):
            found.append((notification.id, event.name))
    return found
