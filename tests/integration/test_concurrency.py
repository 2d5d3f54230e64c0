"""Concurrent writers on one customer never lose an update (PostgreSQL)."""

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
        assert application.repository.get(customer_id).version == 101
    finally:
        other.engine.dispose()
