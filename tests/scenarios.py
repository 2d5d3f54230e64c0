"""A scripted history touching every projection, a planned campaign, and a row-for-row picture of the read tables."""

import uuid
from datetime import timedelta

from sqlalchemy import select

from crm.read_model.tables import (
    campaign_batches,
    campaigns,
    consent_changes,
    customers,
    outreach_events,
    restaurants,
    visits,
)
from crm.write_model.commands import Recorded
from crm.write_model.vocabulary import ConsentSource


def snapshot_tables(container):
    with container.engine.connect() as conn:
        return {
            table.name: sorted(tuple(str(v) for v in row) for row in conn.execute(select(table)))
            for table in (restaurants, customers, visits, consent_changes, campaigns, campaign_batches, outreach_events)
        }


def _id(result):
    """The id a command returned: a `Recorded` (the application) or the id itself (a `Caller`)."""
    return result.id if isinstance(result, Recorded) else result


def planned_campaign(application, size: int):
    """A restaurant with `size` customers and a running campaign whose audience (all of them, in
    one batch up to 200) is planned: (restaurant id, campaign id, customer ids)."""
    restaurant_id = _id(application.open_restaurant("Pizza Palace", actor="admin"))
    customers = [
        _id(application.register_customer(restaurant_id, f"c{i}@example.com", actor="a", scope=None))
        for i in range(size)
    ]
    campaign_id = _id(
        application.create_campaign(
            restaurant_id,
            {"name": "Hello", "segment_type": "inactive_days", "segment_value": 0, "message_template": "Hi"},
            actor="admin",
            scope=None,
        )
    )
    application.run_campaign(campaign_id, actor="admin", scope=None)
    application.plan_audience(campaign_id, customers)
    return restaurant_id, campaign_id, customers


def scripted_history(application, clock):
    pizza = _id(application.open_restaurant("Pizza Palace", "America/New_York", actor="admin"))
    tacos = _id(application.open_restaurant("Taco Town", actor="admin"))
    application.update_restaurant(tacos, actor="admin", scope=None, name="Taco Town II")
    closed = _id(application.open_restaurant("Closed Diner", actor="admin"))
    application.delete_restaurant(closed, actor="admin", scope=None)
    people = [
        _id(
            application.register_customer(
                pizza if i % 2 else tacos, f"c{i}@example.com", f"C{i}", "X", actor="a", scope=None
            )
        )
        for i in range(12)
    ]
    for i, person in enumerate(people):
        for day in range(i % 4):
            visit = _id(
                application.record_visit(
                    person, 1000 * (day + 1) + i, clock() - timedelta(days=10 - day), actor="a", scope=None
                )
            )
            if (i + day) % 3 == 0:
                application.correct_visit(visit, actor="a", scope=None, spend_cents=42, visited_at=clock())
            if (i + day) % 5 == 0:
                application.void_visit(visit, actor="a", scope=None)
        clock.advance(hours=1)
    application.update_customer(people[3], actor="a", scope=None, email="renamed@example.com", first_name="Re")
    application.delete_customer(people[5], actor="a", scope=None)
    application.unsubscribe_customer(people[6], source=ConsentSource.API, actor="a", scope=None)
    application.unsubscribe_customer(people[7], source=ConsentSource.ONE_CLICK, actor="a", scope=None)
    application.resubscribe_customer(people[7], source=ConsentSource.DASHBOARD, actor="a", scope=None)
    application.unsubscribe_customer(people[9], source=ConsentSource.API, actor="a", scope=None)
    application.erase_customer(people[9], actor="a", scope=None)  # with visits and a consent change
    application.erase_customer(people[5], actor="a", scope=None)  # deleted first
    details = {"name": "Win back", "segment_type": "high_spenders", "segment_value": 0, "message_template": "Hi"}
    campaign = _id(application.create_campaign(pizza, details, actor="a", scope=None))
    application.run_campaign(campaign, actor="a", scope=None)
    application.plan_audience(campaign, people[:5])
    records = application.open_batch(campaign, 0)
    records[0].record_sent(1, "worker", clock())
    records[1].record_failed(3, "mailbox full", "worker", clock())
    records[2].skip("customer removed since the campaign started", "worker", clock())
    application.record_outcomes(records[:3])
    application.pause_campaign(campaign, actor="a", scope=None)
    draft = _id(application.create_campaign(tacos, {**details, "name": "Draft"}, actor="a", scope=None))
    application.update_campaign(draft, {"segment_value": 5}, actor="a", scope=None)


def seed_customers(container, restaurant_id, count: int, now) -> None:
    """`count` customers of a restaurant, one second apart, straight into the read table (no
    events): for tests that only read it (the exports). One in a thousand has a formula for a name."""
    rows = []
    for n in range(count):
        created = now - timedelta(seconds=n)
        email = f"guest{n}@example.com"
        rows.append(
            {
                "id": uuid.uuid4(),
                "restaurant_id": restaurant_id,
                "email": email,
                "first_name": f"=Guest{n}" if n % 1000 == 0 else f"Guest{n}",
                "last_name": "Longname-" + "x" * 40,
                "external_id": f"POS-{n}",
                "search_text": f"{email} guest{n} longname",
                "total_spend_cents": n * 7,
                "visit_count": n % 13,
                "last_visit_at": created,
                "first_visit_at": created,
                "last_active_at": created,
                "created_at": created,
            }
        )
    with container.engine.begin() as conn:
        for start in range(0, count, 10_000):
            conn.execute(customers.insert(), rows[start : start + 10_000])
