"""Statements prepared once per connection (PostgreSQL): a command's read-table writes and the
row a view reads back run as `EXECUTE`s, give what the plain statements gave, and follow their
tables through a rebuild's swap."""

import re
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import event, text

from crm import bootstrap
from crm.adapters.availability import database_unavailable
from crm.adapters.deferred_writes import DeferredWrites
from crm.adapters.prepared_statements import ensure_prepared, named, prepared
from crm.projectors.customer_statements import ADD_VISITS, INSERT_VISIT
from crm.projectors.engine import Rebuilder, dead_letters
from crm.read_model.queries import _CUSTOMER_BY_ID, _VISIT_BY_ID


def _prepared_here(connection) -> dict[str, str]:
    rows = connection.execute(text("SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'crm_s_%'"))
    return dict(rows.all())


def test_a_held_write_is_prepared_once_per_connection_and_outlives_a_rollback(application, container, clock):
    restaurant_id = application.open_restaurant("Prepared Diner", actor="admin")
    customer_id = application.register_customer(restaurant_id, "p@example.com", actor="admin", scope=None)
    visit = {"id": uuid4(), "customer_id": customer_id, "spend_cents": 5_000_000_000, "visited_at": clock()}

    with container.engine.connect() as connection:
        with connection.begin() as transaction:
            before = _prepared_here(connection)
            writes = DeferredWrites(connection)
            writes.execute(INSERT_VISIT, visit)
            held = writes.take()
            # Check the write was prepared at once, in a statement of its own, and is held as its EXECUTE
            made = set(_prepared_here(connection)) - set(before)
            assert len(made) == 1 and held.startswith(f"EXECUTE {made.pop()} (")
            connection.connection.cursor().execute(held.replace("%%", "%"))  # (doubled for a statement with parameters)
            transaction.rollback()
        # Check a rollback leaves it prepared: the next transaction only executes it
        with connection.begin():
            writes = DeferredWrites(connection)
            writes.execute(INSERT_VISIT, visit)
            again = writes.take()
            assert again.split(" (")[0] == held.split(" (")[0] and len(_prepared_here(connection)) == len(before) + 1
            connection.connection.cursor().execute(again.replace("%%", "%"))
        # Check a value beyond 32 bits lands whole (integers are declared bigint)
        row = connection.execute(
            text("SELECT spend_cents, restaurant_id FROM visits WHERE id = :id"), {"id": visit["id"]}
        )
        assert tuple(row.one()) == (5_000_000_000, restaurant_id)


def test_read_backs_give_the_rows_the_plain_queries_give(application, container, clock):
    restaurant_id = application.open_restaurant("Prepared Diner", actor="admin")
    customer_id = application.register_customer(
        restaurant_id, "q@example.com", "Ann", "O'Neil", actor="admin", scope=None
    )
    visit_id = application.record_visit(customer_id, 1250, clock() - timedelta(days=2), actor="admin", scope=None)

    with container.engine.connect() as connection:
        plain_customer = dict(connection.execute(_CUSTOMER_BY_ID, {"id": customer_id}).one()._mapping)
        plain_visit = dict(connection.execute(_VISIT_BY_ID, {"id": visit_id}).one()._mapping)

    executed: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread() is this_thread:  # (not a background thread's statements)
            executed.append(statement)

    this_thread = threading.current_thread()
    event.listen(container.engine, "before_cursor_execute", note)
    try:
        for _ in range(2):  # prepared, then executed again
            customer = container.queries.customer(customer_id, restaurant_id)
            visit = container.queries.visit(visit_id, restaurant_id)
            assert customer == {k: v for k, v in plain_customer.items() if k not in ("_owner", "deleted_at")}
            assert visit == {k: v for k, v in plain_visit.items() if k not in ("_owner", "deleted_at")}
        assert container.queries.customer(customer_id, uuid4()) is None  # another restaurant's
        assert container.queries.visit(uuid4(), None) is None
    finally:
        event.remove(container.engine, "before_cursor_execute", note)
    # Each read ran as the EXECUTE of a statement prepared from its query (whichever of the
    # pool's connections it took).
    names = [statement.split()[1] for statement in executed if statement.startswith("EXECUTE crm_s_")]
    assert len(names) == 6, executed
    assert {"customers", "visits"} <= {re.search(r"\bFROM\s+(\w+)", named(name).sql).group(1) for name in names}


def test_prepared_statements_follow_their_tables_through_a_rebuild(application, container, clock):
    restaurant_id = application.open_restaurant("Prepared Diner", actor="admin")
    customer_id = application.register_customer(restaurant_id, "r@example.com", actor="admin", scope=None)
    application.record_visit(customer_id, 1000, clock() - timedelta(days=1), actor="admin", scope=None)
    read_back = prepared(_CUSTOMER_BY_ID.compile(dialect=container.engine.dialect))

    with container.engine.connect() as connection:
        with connection.begin():
            assert ensure_prepared(connection, read_back)
        # The read tables are built again and swapped in while this connection holds its statements
        Rebuilder(container.runner).rebuild_all(["customers"])
        with connection.begin():
            writes = DeferredWrites(connection)
            visit = {"id": uuid4(), "customer_id": customer_id, "spend_cents": 500, "visited_at": clock()}
            writes.execute(INSERT_VISIT, visit)
            writes.execute(
                ADD_VISITS,
                {"customer_id": customer_id, "spend": 500, "visits": 1, "last_visit": clock(), "first_visit": clock()},
            )
            writes.send()
            row = connection.exec_driver_sql(read_back.execute_sql, read_back.arguments({"id": customer_id})).one()

    # Check the statements prepared before the swap read and wrote the tables swapped in
    assert (row.total_spend_cents, row.visit_count) == (1500, 2)
    assert container.queries.customer(customer_id, None)["total_spend_cents"] == 1500


@contextmanager
def lost_on_the_server(engine, *statements):
    """Every connection taken from the pool meanwhile takes `statements` for prepared, and the
    server has none (`DEALLOCATE ALL`, as `DISCARD ALL` or a pooler in transaction mode leaves a
    connection)."""
    names = {prepared(statement.compile(dialect=engine.dialect)).name for statement in statements}

    def lose(dbapi_connection, record, proxy):
        record.info.setdefault("crm_prepared_statements", set()).update(names)
        with dbapi_connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        dbapi_connection.commit()

    event.listen(engine, "checkout", lose)
    try:
        yield
    finally:
        event.remove(engine, "checkout", lose)


def test_connections_whose_statements_the_server_lost_are_replaced_and_nothing_fails(
    application, container, clock, settings
):
    restaurant_id = application.open_restaurant("Prepared Diner", actor="admin")
    customer_id = application.register_customer(restaurant_id, "s@example.com", actor="admin", scope=None)
    visit_id = application.record_visit(customer_id, 100, clock(), actor="admin", scope=None)
    replaced = []
    event.listen(container.engine, "invalidate", lambda *args: replaced.append(args))

    for spend in (200, 300, 400):
        # A command's held writes: the connection is replaced, the command goes on
        with lost_on_the_server(container.engine, INSERT_VISIT, ADD_VISITS):
            visit_id = application.record_visit(customer_id, spend, clock(), actor="admin", scope=None)
        assert len(replaced) >= 1
        replaced.clear()
        # The row read back: the same
        with lost_on_the_server(container.engine, _VISIT_BY_ID):
            assert container.queries.visit(visit_id, None)["spend_cents"] == spend
        assert len(replaced) >= 1
        replaced.clear()
    customer = container.queries.customer(customer_id, None)
    assert (customer["total_spend_cents"], customer["visit_count"]) == (1000, 4)

    # A projector's batch in background mode: retried on a new connection, no event kept as failed
    background = bootstrap.build(replace(settings, projection_mode="background"), clock=clock)
    try:
        background.application.record_visit(customer_id, 500, clock(), actor="admin", scope=None)
        background.runner.catch_up()
        background.application.record_visit(customer_id, 600, clock(), actor="admin", scope=None)
        with lost_on_the_server(background.engine, INSERT_VISIT, ADD_VISITS), pytest.raises(Exception) as lost_once:
            background.runner.catch_up()
        assert database_unavailable(lost_once.value)
        background.runner.catch_up()
        assert dead_letters.unresolved(background.engine) == {}
    finally:
        background.close()
    customer = container.queries.customer(customer_id, None)
    assert (customer["total_spend_cents"], customer["visit_count"]) == (2100, 6)


def test_a_list_page_whose_statements_the_server_lost_is_read_on_a_new_connection(application, container):
    restaurant_id = application.open_restaurant("Prepared Lists", actor="admin")
    for n in range(3):
        application.register_customer(restaurant_id, f"l{n}@example.com", actor="admin", scope=None)
    first = container.queries.customers(None, restaurant_id, None, 1, 2)
    statements = [s for held in container.queries._prepared.values() for s in (held.count, held.page)]
    replaced = []
    event.listen(container.engine, "invalidate", lambda *args: replaced.append(args))

    # Check the first page (its count and its rows) and the page after its cursor
    with lost_on_the_server(container.engine, *statements):
        again = container.queries.customers(None, restaurant_id, None, 1, 2)
    assert len(replaced) >= 1
    assert (again.count, again.items) == (first.count, first.items) and first.count == 3
    replaced.clear()
    second = container.queries.customers(None, restaurant_id, None, 1, 2, first.after)
    statements = [s for held in container.queries._prepared.values() for s in (held.count, held.page)]
    with lost_on_the_server(container.engine, *statements):
        assert container.queries.customers(None, restaurant_id, None, 1, 2, first.after).items == second.items
    assert len(replaced) >= 1 and len(second.items) == 1
