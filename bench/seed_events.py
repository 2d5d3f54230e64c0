"""Write a large event log straight through the application (no HTTP, no inline projection).

    DATABASE_URL=postgresql+psycopg2://root@127.0.0.1/crm_bench1m SECRET_KEY=bench \\
        python bench/seed_events.py --customers 50000 --visits-per-customer 16 --campaign 25000

The mix is the product's own: registrations (each saves a customer and its email index),
visits (each its own stream, saved 16 at a time for one customer, as a busy day's import would), a few
corrections and voids, and one campaign whose outreach is queued and sent. It prints the event
count at the end; `crm projections rebuild` then replays it (bench/rebuild.py times that).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta

from crm.bootstrap import build, migrate
from crm.config import Settings
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import WORKER_ACTOR as WORKER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--visits-per-customer", type=int, default=16)
    parser.add_argument("--campaign", type=int, default=25_000, help="audience of one campaign (0: none)")
    parser.add_argument("--restaurants", type=int, default=20)
    args = parser.parse_args()

    settings = Settings.from_env()
    migrate(settings)
    container = build(settings)
    app = container.application
    rng = random.Random(7)
    started = time.perf_counter()

    restaurants = [app.open_restaurant(f"Restaurant {i}", actor="bench").id for i in range(args.restaurants)]
    people = []
    for i in range(args.customers):
        restaurant_id = restaurants[i % len(restaurants)]
        people.append(
            app.register_customer(
                restaurant_id, f"c{i}@example.com", f"First{i}", f"Last{i}", actor="bench", scope=None
            ).id
        )
        if i % 5000 == 4999:
            print(f"{i + 1} customers ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    now = app.clock()
    for n, customer_id in enumerate(people):
        visits = [
            Visit.record(
                _visit_id(customer_id, v),
                customer_id,
                rng.randrange(500, 20_000),
                now - timedelta(days=rng.randrange(1, 400), minutes=rng.randrange(0, 1440)),
                "bench",
                app.clock(),
            )
            for v in range(args.visits_per_customer)
        ]
        if n % 50 == 0 and len(visits) > 1:  # a few corrections and voids, as real operators make
            visits[0].correct(1_234, now - timedelta(days=3), "bench", app.clock())
            visits[1].void("bench", app.clock())
        app.save(*visits, owners={visit.id: customer_id for visit in visits})
        if n % 5000 == 4999:
            print(f"{n + 1} customers with visits ({time.perf_counter() - started:.0f} s)", file=sys.stderr)

    if args.campaign:
        campaign_id = app.create_campaign(
            restaurants[0],
            {"name": "Win back", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"},
            actor="bench",
            scope=None,
        ).id
        app.run_campaign(campaign_id, actor="bench", scope=None)
        app.plan_audience(campaign_id, people[: args.campaign])
        for number in range(app.campaign(campaign_id).batch_count):
            records = app.open_batch(campaign_id, number)
            for record in records:
                record.record_sent(1, WORKER, app.clock())
            app.record_outcomes(records)
            app.finish_batch(campaign_id, number)

    events = container.event_store.recorder.count()
    print(f"{events} events in the log ({time.perf_counter() - started:.0f} s)")


def _visit_id(customer_id, number: int):
    from uuid import uuid5

    return uuid5(customer_id, f"visit-{number}")


if __name__ == "__main__":
    main()
