"""A customer read by id, and the customer of each campaign record, is found through the
primary key even where PostgreSQL has no statistics yet: a new deployment before autovacuum's
first analyze, or a server with autovacuum off.

Without statistics PostgreSQL takes `deleted_at IS NULL` to hold for 0.5% of the rows, so a
query saying "this id, not deleted" looked cheaper through a partial index of every live
customer (`WHERE deleted_at IS NULL`, the id its last column) than through the primary key, and
read that whole index for one row: 133 index pages for one customer among 5,000.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import event, text

from crm.adapters.prepared_statements import ensure_prepared, named
from tests.scenarios import planned_campaign, seed_customers

CUSTOMERS = 300
MORE_CUSTOMERS = 5_000  # straight into the read table: a table PostgreSQL plans at its size


def plans_of(engine, read) -> list[str]:
    """The plans of the statements `read()` runs, as PostgreSQL would execute them now; of a
    prepared statement's EXECUTE, its first plans (for the values given) and the generic plan
    it may settle on after five executions, one after the other."""
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        read()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    plans = []
    with engine.begin() as conn:
        for statement, parameters in statements:
            if statement.startswith("SET "):  # a page's planner settings, for the statement after it
                setting, _, statement = statement.partition("; ")  # (sent with it, in one string)
                conn.exec_driver_sql(setting)
                if not statement:
                    continue
            if statement.startswith("PREPARE "):  # (the EXECUTE that follows is explained)
                continue
            if statement.startswith("EXECUTE "):
                plans.append(_prepared_plans(conn, statement, parameters))
                continue
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
            plans.append("\n".join(row[0] for row in rows))
    return plans


def _prepared_plans(conn, statement: str, parameters) -> str:
    made = named(statement.split()[1])
    assert made is not None, statement
    ensure_prepared(conn, made)  # on this connection too
    plans = []
    for mode in ("force_custom_plan", "force_generic_plan"):
        conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = {mode}")
        rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        plans.append("\n".join(row[0] for row in rows))
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = auto")
    return "\n".join(plans)


def test_a_customer_by_id_is_read_through_the_primary_key(fresh):
    # Check the premise: customers enough to fill several pages of each index, no statistics
    app = fresh.application
    restaurant_id = app.open_restaurant("Plans", actor="test").id
    ids = [
        app.register_customer(restaurant_id, f"p{n}@example.com", "P", str(n), actor="test", scope=None).id
        for n in range(CUSTOMERS)
    ]
    at = fresh.clock()
    visits = [app.record_visit(id, 1200, at, actor="test", scope=None).id for id in ids]
    app.delete_customer(ids[1], actor="test", scope=None)
    seed_customers(fresh, restaurant_id, MORE_CUSTOMERS, at)
    with fresh.engine.connect() as conn:
        analyzed = conn.execute(
            text("SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'customers'")
        ).one()
    assert analyzed == (None, None)

    # Check each read of one customer: the API's (unscoped and scoped) and the dashboard's page
    reads = {
        "api": lambda: fresh.queries.customer(ids[0], None),
        "api, scoped": lambda: fresh.queries.customer(ids[0], restaurant_id),
        "dashboard": lambda: fresh.customer_page_queries.customer_page(ids[0], 1, 20),
    }
    for name, read in reads.items():
        customer_plan = plans_of(fresh.engine, read)[0]
        assert "customers_pkey" in customer_plan, (name, customer_plan)
        assert "ix_customers_" not in customer_plan, (name, customer_plan)
    # ... and of one visit, the API's answer to recording it
    for scope in (None, restaurant_id):
        visit_plan = plans_of(fresh.engine, lambda scope=scope: fresh.queries.visit(visits[0], scope))[0]
        assert "visits_pkey" in visit_plan and "customers_pkey" in visit_plan, visit_plan
        assert "ix_visits_" not in visit_plan and "ix_customers_" not in visit_plan, visit_plan

    # Check the rows themselves: the customer, without the column read to drop the deleted
    assert fresh.queries.customer(ids[0], None)["id"] == ids[0]
    assert "deleted_at" not in fresh.queries.customer(ids[0], restaurant_id)
    assert fresh.customer_page_queries.customer_page(ids[0], 1, 20)["customer"]["id"] == ids[0]
    # ... and a deleted one is not found, nor found through another restaurant
    assert fresh.queries.customer(ids[1], None) is None
    assert fresh.customer_page_queries.customer_page(ids[1], 1, 20) is None
    assert fresh.queries.customer(ids[0], uuid.uuid4()) is None
    assert fresh.queries.visit(visits[0], restaurant_id) == {
        "id": visits[0],
        "customer": ids[0],
        "customer_email": "p0@example.com",
        "visited_at": at,
        "spend_cents": 1200,
    }
    assert fresh.queries.visit(visits[0], uuid.uuid4()) is None
    assert fresh.queries.visit(visits[1], None) is None  # its customer deleted


def test_a_campaigns_records_find_their_customers_by_primary_key(fresh):
    # Check the premise: a campaign's records, one per customer, and one customer deleted since
    restaurant_id, campaign_id, customer_ids = planned_campaign(fresh.application, CUSTOMERS)
    for batch in range(2):  # each batch's records queued
        fresh.application.open_batch(campaign_id, batch)
    fresh.application.delete_customer(customer_ids[0], actor="test", scope=None)
    seed_customers(fresh, restaurant_id, MORE_CUSTOMERS, fresh.clock())
    queries = fresh.campaign_queries

    # Check a page of the campaign's records (as the API and its walk read them), and one record
    for scope in (None, restaurant_id):
        *_, page_plan = plans_of(
            fresh.engine, lambda scope=scope: queries.campaign_outreach(campaign_id, scope, None, 1, 50)
        )
        assert "ix_outreach_campaign_created" in page_plan, page_plan
        assert "customers_pkey" in page_plan and "ix_customers_" not in page_plan, page_plan
    pages = [queries.campaign_outreach(campaign_id, restaurant_id, None, n, 100) for n in (1, 2, 3)]
    records = [record for page in pages for record in page.items]
    record = next(r for r in records if r["customer"] == customer_ids[0])
    for scope in (None, restaurant_id):
        record_plan = plans_of(fresh.engine, lambda scope=scope: queries.outreach(record["id"], scope))[0]
        assert "outreach_events_pkey" in record_plan and "customers_pkey" in record_plan, record_plan
        assert "ix_" not in record_plan, record_plan

    # Check the rows: every record, a deleted customer's without its address, none to another restaurant
    assert pages[0].count == CUSTOMERS and len({r["id"] for r in records}) == CUSTOMERS
    assert record["customer_email"] is None
    assert {r["customer_email"] for r in records if r is not record} == {
        f"c{n}@example.com" for n in range(1, CUSTOMERS)
    }
    assert queries.outreach(record["id"], restaurant_id)["customer_email"] is None
    assert queries.outreach(record["id"], uuid.uuid4()) is None
    assert queries.campaign_outreach(campaign_id, uuid.uuid4(), None, 1, 50) is None


def test_the_pages_of_the_customer_lists_read_their_index_in_its_order_whatever_the_plan(fresh):
    # Prepared, a page's statement may settle on a generic plan: each plan, custom and generic,
    # of each list's first page and of a page after a cursor reads the list's index in order.
    restaurant_id = fresh.application.open_restaurant("Lists", actor="test").id
    seed_customers(fresh, restaurant_id, MORE_CUSTOMERS, fresh.clock())
    queries, now = fresh.queries, fresh.clock()
    lists = {
        "ix_customers_spend": lambda after: queries.high_spenders(None, restaurant_id, 7_000, 1, 50, after),
        "ix_customers_last_active": lambda after: queries.inactive_customers(None, restaurant_id, 0, now, 1, 50, after),
        "ix_customers_restaurant_created": lambda after: queries.customers(None, restaurant_id, None, 1, 50, after),
    }
    for index, read in lists.items():
        after = read(None).after
        assert after is not None  # a list of several pages
        for cursor in (None, after):
            *_, page_plan = plans_of(fresh.engine, lambda read=read, cursor=cursor: read(cursor))
            in_order = re.findall(rf"Index Scan (?:Backward )?using {index} on customers", page_plan)
            assert len(in_order) == 2, page_plan  # the custom plan's, the generic plan's
            assert "Sort" not in page_plan and page_plan.count("restaurants_pkey") == 2, page_plan
