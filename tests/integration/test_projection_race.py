"""Two projection runners catching up at once never apply an event twice (PostgreSQL)."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from crm import bootstrap
from crm.projectors import all_projectors
from crm.read_model.tables import customers, projection_tracking


def test_concurrent_runners_apply_each_event_once(settings, container, clock):
    writer, *runners = [bootstrap.build(settings, clock=clock) for _ in range(3)]
    try:
        # Commands run without inline projection, so the two runners below find work to race on.
        app = writer.application
        restaurant_id = app.open_restaurant("Pizza Palace", actor="admin").id
        people = [
            app.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None).id for i in range(20)
        ]
        for round_ in range(10):
            for person in people:
                app.record_visit(person, 100 + round_, actor="a", scope=None)
        for runner in runners:
            runner.runner.batch_size = 7  # many small batches: many chances to collide

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda c: c.runner.catch_up(), runners))

        with container.engine.connect() as conn:
            totals = conn.execute(select(customers.c.total_spend_cents, customers.c.visit_count)).all()
            positions = dict(conn.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all())
        assert sorted(totals) == [(sum(100 + r for r in range(10)), 10)] * 20
        head = writer.runner.head()
        assert positions == {projector.name: head for projector in all_projectors()}
    finally:
        for c in [writer, *runners]:
            c.close()
