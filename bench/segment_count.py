"""Count latency of segment rules (`SegmentQueries.count`: the count and the 5 newest members).

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/crm_bench SECRET_KEY=bench \\
        python bench/segment_count.py --customers 50000 --visits-per-customer 2

Seeds one restaurant through the application (registrations, visits saved as their own streams,
some unsubscribes, one campaign whose outreach is sent), with the projections caught up in large
batches afterwards, as `crm projections rebuild` would. A database that already holds the
restaurant at that size is reused. Then times each rule's count `--rounds` times and prints
p50/p95 in milliseconds and, on a PostgreSQL of this machine, the CPU time of one count on each
side (a figure other load on the machine does not inflate).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from uuid import uuid5

from sqlalchemy import func, select, text

from crm.bootstrap import build, migrate
from crm.config import Settings
from crm.read_model.tables import customers, restaurants
from crm.write_model.segment_rules import parse_rule
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import WORKER_ACTOR, ConsentSource

NAME = "Segment bench"
RULES = {
    # The target: four conditions, one of them a window over the visits table.
    "4 conditions, a window": {
        "all": [
            {"field": "spend_cents_in_last_days", "op": "gte", "value": 5_000, "days": 365},
            {"field": "last_visit_at", "op": "older_than_days", "value": 45},
            {"field": "visit_count", "op": "gte", "value": 2},
            {"field": "email_consent", "op": "eq", "value": "subscribed"},
        ]
    },
    "4 conditions, two windows and first visit": {
        "all": [
            {"field": "total_spend_cents", "op": "gte", "value": 20_000},
            {"field": "visits_in_last_days", "op": "lte", "value": 0, "days": 45},
            {"field": "spend_cents_in_last_days", "op": "gte", "value": 1, "days": 365},
            {"field": "first_visit_at", "op": "within_days", "value": 200},
        ]
    },
    "4 conditions, not messaged this month": {
        "all": [
            {"field": "average_spend_cents", "op": "gte", "value": 8_000},
            {"field": "visits_in_last_days", "op": "gte", "value": 1, "days": 90},
            {"not": {"field": "messaged_in_last_days", "op": "eq", "value": True, "days": 30}},
            {"field": "email_consent", "op": "eq", "value": "subscribed"},
        ]
    },
    "inactive 45 days (the seed shorthand)": {
        "any": [
            {"field": "last_visit_at", "op": "older_than_days", "value": 45},
            {
                "all": [
                    {"field": "last_visit_at", "op": "never"},
                    {"field": "registered_at", "op": "older_than_days", "value": 45},
                ]
            },
        ]
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--visits-per-customer", type=int, default=2)
    parser.add_argument("--campaign", type=int, default=5_000, help="customers sent one campaign (0: none)")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()

    settings = dataclasses.replace(Settings.from_env(), projection_mode="background")
    migrate(settings)
    container = build(settings)
    try:
        restaurant_id = _restaurant(container, args)
        now = container.clock()
        print(f"{args.customers} customers, {args.visits_per_customer} visits each ({container.engine.dialect.name})")
        for name, rule in RULES.items():
            rule = parse_rule(rule)
            result = container.segment_queries.count(restaurant_id, rule, now)  # warm the caches
            times = []
            server, client = _server_cpu(container.engine), time.process_time()
            for _ in range(args.rounds):
                started = time.perf_counter()
                container.segment_queries.count(restaurant_id, rule, now)
                times.append((time.perf_counter() - started) * 1000)
            client = (time.process_time() - client) * 1000 / args.rounds
            server = (_server_cpu(container.engine) - server) * 1000 / args.rounds if server is not None else None
            p95 = statistics.quantiles(times, n=20)[18]
            cpu = f", CPU a count: {server:.1f} ms PostgreSQL + {client:.1f} ms Python" if server is not None else ""
            print(f"{name}: count {result['count']}, p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms{cpu}")
    finally:
        container.close()


def _server_cpu(engine) -> float | None:
    """CPU seconds used so far by the PostgreSQL backends serving this database, if they run on
    this machine (/proc): a figure other load on the machine does not inflate, as wall time."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        pids = list(pids) + [conn.execute(text("SELECT pg_backend_pid()")).scalar()]
    try:
        ticks = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    except OSError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def _restaurant(container, args) -> object:
    """The bench restaurant, seeded at the size asked for (reused if it already is)."""
    with container.engine.connect() as conn:
        found = conn.execute(
            select(restaurants.c.id, func.count(customers.c.id))
            .select_from(restaurants.outerjoin(customers, customers.c.restaurant_id == restaurants.c.id))
            .where(restaurants.c.name == f"{NAME} {args.customers}x{args.visits_per_customer}")
            .group_by(restaurants.c.id)
        ).first()
    if found is not None and found[1] == args.customers:
        return found[0]
    return _seed(container, args)


def _seed(container, args):
    app = container.application
    rng = random.Random(13)
    started = time.perf_counter()
    name = f"{NAME} {args.customers}x{args.visits_per_customer}"
    restaurant_id = app.open_restaurant(name, actor="bench").id
    now = app.clock()
    people = []
    for i in range(args.customers):
        customer_id = app.register_customer(
            restaurant_id, f"s{i}@example.com", f"First{i}", f"Last{i}", actor="bench", scope=None
        ).id
        people.append(customer_id)
        visits = [
            Visit.record(
                uuid5(customer_id, f"visit-{v}"),
                customer_id,
                rng.randrange(500, 20_000),
                now - timedelta(days=rng.randrange(0, 400), minutes=rng.randrange(0, 1440)),
                "bench",
                app.clock(),
            )
            for v in range(args.visits_per_customer)
        ]
        if visits:
            app.save(*visits, owners={visit.id: customer_id for visit in visits})
        if i % 20 == 0:
            app.unsubscribe_customer(customer_id, source=ConsentSource.IMPORT, actor="bench", scope=None)
        if i % 5000 == 4999:
            print(f"{i + 1} customers ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.campaign:
        details = {"name": "Hello", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"}
        campaign_id = app.create_campaign(restaurant_id, details, actor="bench", scope=None).id
        app.run_campaign(campaign_id, actor="bench", scope=None)
        app.plan_audience(campaign_id, people[: args.campaign])
        for number in range(app.campaign(campaign_id).batch_count):
            records = app.open_batch(campaign_id, number)
            for record in records:
                record.record_sent(1, WORKER_ACTOR, app.clock())
            app.record_outcomes(records)
            app.finish_batch(campaign_id, number)
    container.runner.catch_up()
    if container.engine.dialect.name == "postgresql":
        # A settled database, as autovacuum leaves it: statistics, and the visibility map that
        # lets index-only scans skip the table.
        with container.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return restaurant_id


if __name__ == "__main__":
    main()
