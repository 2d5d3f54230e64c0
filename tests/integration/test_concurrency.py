"""Concurrent writers on one customer never lose an update (PostgreSQL)."""

import time
from concurrent.futures import ThreadPoolExecutor

from crm import bootstrap


def test_8_threads_x_50_add_visit_on_one_customer_lose_nothing(app, admin, customer):
    key = admin.key

    def worker(n: int) -> list[int]:
        client = app.test_client()  # one client per thread, like separate HTTP connections
        statuses = []
        for i in range(50):
            response = client.post(
                f"/api/customers/{customer['id']}/add_visit/",
                json={"spend_cents": 100 * n + i},
                headers={"Authorization": f"Bearer {key}"},
            )
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for result in pool.map(worker, range(8)) for s in result]

    assert statuses == [201] * 400
    expected_total = sum(100 * n + i for n in range(8) for i in range(50))
    body = admin.get(f"/api/customers/{customer['id']}/").json
    assert (body["visit_count"], body["total_spend_cents"]) == (400, expected_total)
    assert admin.get(f"/api/visits/?customer_id={customer['id']}&page_size=1").json["count"] == 400


def test_two_processes_writing_one_customer_retry_on_conflicts(settings, container, application, clock):
    # A second application object stands for another web process: no shared in-process locks,
    # so the two collide in the event store and must reload and retry.
    other = bootstrap.build(settings, clock=clock)
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None)

    def worker(n: int) -> None:
        app = application if n % 2 else other.application
        for i in range(25):
            app.record_visit(customer_id, n * 1000 + i, actor=f"p{n}", scope=None)

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(worker, range(4)))
        container.runner.catch_up()
        row = container.queries.customer(customer_id, None)
        assert row["visit_count"] == 100
        assert row["total_spend_cents"] == sum(n * 1000 + i for n in range(4) for i in range(25))
        # Check each visit is its own stream, owned by the customer, whose stream they left alone.
        assert len(application.recorder.owned_streams(customer_id)) == 100
        assert application.repository.get(customer_id).version == 1
    finally:
        other.close()


def test_a_customer_deleted_while_visits_pour_in_gets_no_visit_after_the_deletion(settings, container, clock):
    # Visits are recorded without loading the customer; the event store checks, under its
    # insert lock, that the customer's stream has not ended. Two processes race here.
    from crm.write_model.errors import CustomerNotFound

    other = bootstrap.build(settings, clock=clock)
    application = container.application
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None).id
    outcomes: list[str] = []

    def visits() -> None:
        for i in range(60):
            try:
                other.application.record_visit(customer_id, 100 + i, actor="till", scope=None)
                outcomes.append("recorded")
            except CustomerNotFound:
                outcomes.append("refused")

    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(visits) for _ in range(2)]
            while outcomes.count("recorded") < 10:
                pass
            deleted = application.delete_customer(customer_id, actor="admin", scope=None)
            for future in futures:
                future.result()
        # Check every visit the log holds for the customer came before the deletion, and every
        # one refused came after it.
        recorded = application.recorder.select_streams(application.recorder.owned_streams(customer_id))
        notifications = application.recorder.select_notifications(1, 10_000)
        position_of = {(n.originator_id, n.originator_version): n.id for n in notifications}
        assert recorded and len(recorded) == outcomes.count("recorded")
        assert all(position_of[(e.originator_id, e.originator_version)] < deleted.position for e in recorded)
        assert "refused" in outcomes
        assert outcomes.index("refused") >= 10
    finally:
        other.close()


def test_registrations_racing_a_restaurant_deletion_never_leave_a_customer_in_a_deleted_restaurant(
    settings, container, clock
):
    # Registrations read nothing first: the event store checks, under its insert lock, that the
    # restaurant is open; the deletion checks there that none of its customers is live.
    from crm.write_model.errors import InvalidInput, RestaurantHasCustomers

    other = bootstrap.build(settings, clock=clock)
    application = container.application
    deleted, kept = 0, 0
    try:
        for round_ in range(8):
            restaurant_id = application.open_restaurant(f"R{round_}", actor="admin").id
            registered: list = []

            def register(n: int, restaurant_id=restaurant_id, registered=registered) -> None:
                for i in range(15):
                    try:
                        email = f"c{n}-{i}@example.com"
                        registered.append(
                            other.application.register_customer(restaurant_id, email, actor="x", scope=None)
                        )
                    except InvalidInput:
                        pass

            with ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(register, n) for n in range(2)]
                try:
                    deletion = application.delete_restaurant(restaurant_id, actor="admin", scope=None)
                except RestaurantHasCustomers:
                    deletion = None
                for future in futures:
                    future.result()
            if deletion is None:
                kept += 1
                assert registered
                continue
            deleted += 1
            # Check every registration that went through came before the deletion in the log.
            assert all(r.position < deletion.position for r in registered)
        assert deleted + kept == 8
    finally:
        other.close()


def test_a_visit_chosen_as_a_deadlock_victim_is_retried_not_failed(container, clock):
    # A visit projects its customer's row before taking the events table lock; a writer holding
    # that lock and wanting the same row (a correction's recount does) closes a cycle, and
    # PostgreSQL aborts one of the two. The visit's command then retries like after any conflict.
    import threading

    from sqlalchemy import text

    application = container.application
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = application.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None).id
    outcome: list = []
    blocker = container.engine.connect()
    blocker.execute(text("LOCK TABLE crm_events IN EXCLUSIVE MODE"))
    visit = threading.Thread(
        target=lambda: outcome.append(application.record_visit(customer_id, 700, actor="till", scope=None))
    )
    visit.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the visit holds the row and waits for the lock
        with container.engine.connect() as probe:
            waiting = probe.execute(
                text(
                    "SELECT count(*) FROM pg_locks"
                    " WHERE locktype = 'relation' AND mode = 'ExclusiveLock' AND NOT granted"
                )
            ).scalar_one()
        if waiting:
            break
        time.sleep(0.02)
    try:
        blocker.execute(text("UPDATE customers SET visit_count = visit_count WHERE id = :id"), {"id": customer_id})
    except Exception:  # noqa: BLE001 - this side may be the victim instead
        pass
    blocker.rollback()
    blocker.close()
    visit.join(30)
    assert len(outcome) == 1
    row = container.queries.customer(customer_id, None)
    assert (row["visit_count"], row["total_spend_cents"]) == (1, 700)
