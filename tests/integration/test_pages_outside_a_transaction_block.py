"""A page of a list on PostgreSQL: each statement sent with its planner setting in one string,
outside a transaction block (one round trip each, no BEGIN, SET or ROLLBACK of their own), and
the same rows as read in a transaction."""

from __future__ import annotations

import threading

from psycopg2.extensions import STATUS_READY
from sqlalchemy import event, text

from crm.read_model.queries import Queries
from tests.scenarios import seed_customers

CUSTOMERS = 230
PAGE = 50


def walk(queries: Queries, restaurant_id) -> tuple[list[int], list[dict]]:
    """Every page of the restaurant's high spenders, by cursor: the counts, and the rows."""
    counts, rows, after = [], [], None
    while True:
        page = queries.high_spenders(None, restaurant_id, 0, 1, PAGE, after)
        counts.append(page.count)
        rows.extend(page.items)
        if page.after is None:
            return counts, rows
        after = page.after


def sent_while(engine, read) -> list[tuple[str, bool, int]]:
    """Each statement `read()` sends: its text, and whether its connection was in autocommit
    and outside a transaction when it was sent. Statements other threads send meanwhile (the
    container's background followers share the engine) are not counted."""
    sent = []
    reader = threading.get_ident()

    def seen(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() != reader:
            return
        driver = conn.connection.driver_connection
        sent.append((statement, driver.autocommit, driver.status))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return sent


def test_each_statement_of_a_page_is_one_string_outside_a_transaction_block(container):
    restaurant_id = container.application.open_restaurant("Pages", actor="test").id
    seed_customers(container, restaurant_id, CUSTOMERS, container.clock())
    walked = {}

    sent = sent_while(container.engine, lambda: walked.setdefault("walk", walk(container.queries, restaurant_id)))

    pages = -(-CUSTOMERS // PAGE)
    prepares = [statement for statement, *_ in sent if statement.startswith("PREPARE ")]
    runs = [(statement, *state) for statement, *state in sent if not statement.startswith("PREPARE ")]
    assert len(runs) == 1 + pages, [s for s, *_ in runs]  # the first page's count, then one a page
    for statement, in_autocommit, status in runs:
        # (prepared on the connection the first time: PostgreSQL need not plan it every time)
        assert statement.startswith("SET LOCAL enable_sort = off; EXECUTE crm_s_"), statement
        assert in_autocommit and status == STATUS_READY
    assert 0 < len(prepares) <= 3  # the count, the first page, the pages after a cursor
    # Check the setting ended with its statement: a connection from the pool plans as usual.
    with container.engine.connect() as connection:
        assert connection.execute(text("SHOW enable_sort")).scalar_one() == "on"
    counts, rows = walked["walk"]
    assert counts == [CUSTOMERS] * pages
    assert len(rows) == CUSTOMERS and len({row["id"] for row in rows}) == CUSTOMERS


def test_a_page_read_in_a_transaction_has_the_same_rows(container):
    restaurant_id = container.application.open_restaurant("Pages", actor="test").id
    seed_customers(container, restaurant_id, CUSTOMERS, container.clock())
    # A connection whose isolation level was set stays in a transaction (crm.adapters.autocommit).
    in_transaction = Queries(container.engine.execution_options(isolation_level="READ COMMITTED"))

    sent = sent_while(container.engine, lambda: walk(in_transaction, restaurant_id))

    assert sent[0][0] == "SET LOCAL enable_sort = off"  # then the count and the page, apart
    assert not any(in_autocommit or "; " in statement for statement, in_autocommit, _ in sent)
    assert walk(in_transaction, restaurant_id) == walk(container.queries, restaurant_id)
    # ... down to the types: ids as UUIDs, times with their zone
    _, rows = walk(container.queries, restaurant_id)
    assert all(row["created_at"].utcoffset() is not None for row in rows)
    assert {type(row["id"]).__name__ for row in rows} == {"UUID"}


def test_a_list_without_parameters_is_prepared_too(container):
    # Every customer of every restaurant: the count has no parameter at all.
    restaurant_id = container.application.open_restaurant("Pages", actor="test").id
    seed_customers(container, restaurant_id, 60, container.clock())

    sent = sent_while(container.engine, lambda: container.queries.customers(None, None, None, 1, PAGE))

    prepares = [statement for statement, *_ in sent if statement.startswith("PREPARE ")]
    assert any(" AS SELECT count(*)" in statement and "() AS" not in statement for statement in prepares), prepares
    page = container.queries.customers(None, None, None, 1, PAGE)
    assert page.count == 60 and len(page.items) == PAGE
