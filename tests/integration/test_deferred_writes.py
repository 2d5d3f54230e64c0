"""Writes held back and sent as SQL text with the locked append (PostgreSQL's fast path)."""

from uuid import UUID

from sqlalchemy import bindparam, select, text

from crm.adapters.deferred_writes import DeferredWrites
from crm.read_model.tables import restaurants

AWKWARD = "50% O'Brien \\ %(name)s %s; DROP TABLE customers; --"


def test_awkward_text_lands_exactly_as_given(application, container):
    restaurant_id = application.open_restaurant(AWKWARD, actor="admin")
    customer_id = application.register_customer(
        restaurant_id, "pct%o'neil@example.com", AWKWARD, AWKWARD, actor="admin", scope=None
    )
    application.record_visit(customer_id, 1234, actor="admin", scope=None)
    application.update_customer(customer_id, actor="admin", scope=None, first_name="100%")
    row = container.queries.customer(customer_id, None)
    # Check quotes, percent signs, backslashes and semicolons arrive as text, not as SQL.
    assert (row["email"], row["first_name"], row["last_name"]) == ("pct%o'neil@example.com", "100%", AWKWARD)
    assert (row["total_spend_cents"], row["visit_count"]) == (1234, 1)
    assert container.queries.restaurant(restaurant_id, None)["name"] == AWKWARD


def test_held_writes_run_in_order_before_a_read_and_once(container):
    with container.engine.connect() as connection, connection.begin():
        writes = DeferredWrites(connection)
        rename = restaurants.update().where(restaurants.c.id == bindparam("rid"))
        opened = text("SELECT count(*) FROM restaurants")
        row = {"id": _id(1), "name": "First", "timezone": "UTC", "created_at": _now(connection)}
        writes.execute(restaurants.insert(), [row, {**row, "id": _id(2)}])
        writes.execute(rename, {"rid": _id(1), "name": "Renamed"})
        # Check nothing ran yet; a read first sends what is held, in order, then runs.
        assert connection.execute(opened).scalar_one() == 0
        assert writes.execute(select(restaurants.c.name).order_by(restaurants.c.name)).scalars().all() == [
            "First",
            "Renamed",
        ]
        assert writes.take() == ""  # sent, so nothing is held twice
        writes.execute(rename, {"rid": _id(2), "name": AWKWARD})
        held = writes.take()
        assert held.startswith("EXECUTE crm_s_") and held.endswith("; ")  # prepared on the connection
        # Check the held text goes first in a statement with parameters of its own, as is.
        cursor = connection.connection.cursor()
        cursor.execute(held + "SELECT %s", [7])
        assert cursor.fetchone() == (7,)
        assert connection.execute(select(restaurants.c.name).where(restaurants.c.id == _id(2))).scalar_one() == AWKWARD
        # Check a write whose parameters expand at execution (IN a list) runs at once, in order.
        writes.execute(rename, {"rid": _id(1), "name": "Held"})
        writes.execute(restaurants.delete().where(restaurants.c.id.in_([_id(2)])))
        assert writes.take() == ""
        assert connection.execute(select(restaurants.c.name)).scalars().all() == ["Held"]


def _id(n: int) -> UUID:
    return UUID(int=n)


def _now(connection):
    return connection.execute(text("SELECT now()")).scalar_one()
