"""Segment rules over a small restaurant made through commands: every field and operator against
members computed by hand, groups, the as-of audience, pages, and the seed segments as rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select

from crm.bootstrap import MIGRATIONS
from crm.read_model.tables import customers, visits
from crm.write_model.segment_rules import parse_rule, shorthand_rule
from crm.write_model.visits import Visit
from crm.write_model.vocabulary import ConsentSource

DAY = timedelta(days=1)


@dataclass
class Shop:
    """Pizza's customers by name, its two campaigns, and the moment the expectations hold at."""

    now: datetime
    pizza: UUID
    tacos: UUID
    ids: dict[str, UUID]
    spring: UUID
    summer: UUID

    def names(self, ids) -> set[str]:
        by_id = {id: name for name, id in self.ids.items()}
        return {by_id[id] for id in ids}

    def ago(self, days: int) -> str:
        return (self.now - days * DAY).isoformat()


@pytest.fixture
def shop(application, clock) -> Shop:
    """At `now` (days ago: registered; visits with spend; outreach):

    | name | registered | visits                | consent      | outreach                        |
    | ann  | 100        | 90: 5000, 10: 3000    | subscribed   | spring sent 25, summer queued   |
    | bob  | 60         | none                  | unsubscribed |                                 |
    | cat  | 50         | 40: 10000             | subscribed   | spring failed                   |
    | dan  | 5          | 3: 1000, 2: 2000, 1: 4000 | subscribed | summer sent 3                 |
    | eve  | 30         | 20: 0                 | subscribed   | spring sent 25                  |
    | fay  | 80, deleted 15 | 70: 6000          |              |                                 |
    gus: Tacos's, registered 100, visit 10: 50000.
    """
    now = clock.now

    def at(days_ago: int) -> None:
        clock.now = now - days_ago * DAY

    def register(restaurant, name):
        return application.register_customer(restaurant, f"{name}@example.com", name, "X", actor="a", scope=None)

    def visit(customer, spend):
        application.record_visit(customer, spend, clock(), actor="a", scope=None)

    def campaign(name, audience, sent, failed=()):
        details = {"name": name, "segment_type": "high_spenders", "segment_value": 0, "message_template": "Hi"}
        campaign_id = application.create_campaign(pizza, details, actor="a", scope=None)
        application.run_campaign(campaign_id, actor="a", scope=None)
        application.plan_audience(campaign_id, audience)
        records = application.open_batch(campaign_id, 0)
        for record in records:
            if record.customer_id in sent:
                record.record_sent(1, "worker", clock())
            elif record.customer_id in failed:
                record.record_failed(3, "mailbox full", "worker", clock())
        application.record_outcomes(records)
        return campaign_id

    at(100)
    pizza = application.open_restaurant("Pizza Palace", actor="admin")
    tacos = application.open_restaurant("Taco Town", actor="admin")
    ann, gus = register(pizza, "ann"), register(tacos, "gus")
    at(90)
    visit(ann, 5000)
    at(80)
    fay = register(pizza, "fay")
    at(70)
    visit(fay, 6000)
    at(60)
    bob = register(pizza, "bob")
    at(50)
    cat = register(pizza, "cat")
    application.unsubscribe_customer(bob, source=ConsentSource.API, actor="a", scope=None)
    at(40)
    visit(cat, 10_000)
    at(30)
    eve = register(pizza, "eve")
    at(25)
    spring = campaign("Spring", [ann, cat, eve], sent={ann, eve}, failed={cat})
    at(20)
    visit(eve, 0)
    at(15)
    application.delete_customer(fay, actor="a", scope=None)
    at(10)
    visit(ann, 3000)
    visit(gus, 50_000)
    at(5)
    dan = register(pizza, "dan")
    at(3)
    visit(dan, 1000)
    summer = campaign("Summer", [dan, ann], sent={dan})
    at(2)
    visit(dan, 2000)
    at(1)
    visit(dan, 4000)
    clock.now = now
    ids = {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve, "fay": fay, "gus": gus}
    return Shop(now, pizza, tacos, ids, spring, summer)


def c(field, op, value=None, **extra) -> dict:
    node = {"field": field, "op": op, **extra}
    if value is not None:
        node["value"] = value
    return node


# (rule, expected members at `now`); `ago(N)` is replaced by the moment N days before `now`,
# `spring`/`summer` by the campaigns' ids. Boundaries sit exactly on data: ann's last visit is
# at 10 days, eve's at 20, cat's first at 40, eve registered at 30, bob at 60, cat at 50.
CASES = [
    (c("total_spend_cents", "gte", 8000), {"ann", "cat"}),
    (c("total_spend_cents", "lte", 7000), {"bob", "dan", "eve"}),
    (c("total_spend_cents", "between", [7000, 8000]), {"ann", "dan"}),
    (c("total_spend_cents", "gte", 6000), {"ann", "cat", "dan"}),  # not fay (deleted) nor gus (Tacos)
    (c("visit_count", "gte", 2), {"ann", "dan"}),
    (c("visit_count", "lte", 0), {"bob"}),
    (c("visit_count", "between", [1, 2]), {"ann", "cat", "eve"}),
    (c("average_spend_cents", "gte", 4000), {"ann", "cat"}),  # ann's is 4000 exactly
    (c("average_spend_cents", "gte", 0), {"ann", "cat", "dan", "eve"}),  # bob has no average
    (c("average_spend_cents", "lte", 2333), {"eve"}),  # dan's is 2333.33
    (c("average_spend_cents", "lte", 2334), {"dan", "eve"}),
    (c("average_spend_cents", "between", [2333, 4000]), {"ann", "dan"}),
    (c("average_spend_cents", "between", [2334, 3999]), set()),
    (c("last_visit_at", "within_days", 10), {"ann", "dan"}),
    (c("last_visit_at", "older_than_days", 20), {"cat"}),  # eve's is at 20: not older
    (c("last_visit_at", "older_than_days", 0), {"ann", "cat", "dan", "eve"}),
    (c("last_visit_at", "before", "ago(15)"), {"cat", "eve"}),
    (c("last_visit_at", "after", "ago(10)"), {"dan"}),  # ann's is at 10: not after
    (c("last_visit_at", "never"), {"bob"}),
    (c("first_visit_at", "within_days", 20), {"dan", "eve"}),
    (c("first_visit_at", "older_than_days", 40), {"ann"}),  # cat's is at 40: not older
    (c("first_visit_at", "before", "ago(40)"), {"ann"}),
    (c("first_visit_at", "after", "ago(40)"), {"dan", "eve"}),
    (c("first_visit_at", "never", True), {"bob"}),
    (c("registered_at", "within_days", 30), {"dan", "eve"}),  # eve at 30 exactly
    (c("registered_at", "older_than_days", 60), {"ann"}),  # bob at 60: not older
    (c("registered_at", "before", "ago(50)"), {"ann", "bob"}),  # cat at 50: neither before
    (c("registered_at", "after", "ago(50)"), {"dan", "eve"}),  # nor after
    (c("spend_cents_in_last_days", "gte", 3000, days=10), {"ann", "dan"}),  # ann's 3000 at 10
    (c("spend_cents_in_last_days", "gte", 3001, days=10), {"dan"}),
    (c("spend_cents_in_last_days", "lte", 0, days=10), {"bob", "cat", "eve"}),
    (c("spend_cents_in_last_days", "gte", 10_000, days=40), {"cat"}),
    (c("visits_in_last_days", "gte", 3, days=3), {"dan"}),  # his first at 3 counts
    (c("visits_in_last_days", "gte", 3, days=2), set()),
    (c("visits_in_last_days", "lte", 0, days=30), {"bob", "cat"}),
    # Windows over more than half of the restaurant's 90 days of visits (read as the totals less
    # the older visits), one reaching past them all.
    (c("spend_cents_in_last_days", "gte", 10_000, days=60), {"cat"}),
    (c("visits_in_last_days", "lte", 1, days=60), {"ann", "bob", "cat", "eve"}),
    (c("spend_cents_in_last_days", "gte", 7000, days=365), {"ann", "cat", "dan"}),
    (c("visits_in_last_days", "lte", 1, days=30), {"ann", "bob", "cat", "eve"}),
    (c("email_consent", "eq", "unsubscribed"), {"bob"}),
    (c("email_consent", "eq", "subscribed"), {"ann", "cat", "dan", "eve"}),
    (c("messaged_in_last_days", "eq", True, days=7), {"dan"}),  # ann's summer record is queued
    (c("messaged_in_last_days", "eq", False, days=7), {"ann", "bob", "cat", "eve"}),
    (c("messaged_in_last_days", "eq", True, days=25), {"ann", "dan", "eve"}),  # spring at 25 exactly
    (c("messaged_in_last_days", "eq", True, days=24), {"dan"}),
    (c("received_campaign", "eq", True, campaign="spring"), {"ann", "eve"}),  # cat's failed
    (c("received_campaign", "eq", False, campaign="spring"), {"bob", "cat", "dan"}),
    (c("received_campaign", "eq", True, campaign="summer"), {"dan"}),
    ({"all": [c("visit_count", "gte", 2), c("average_spend_cents", "gte", 3000)]}, {"ann"}),
    ({"any": [c("last_visit_at", "never"), c("total_spend_cents", "gte", 10_000)]}, {"bob", "cat"}),
    ({"not": c("last_visit_at", "within_days", 10)}, {"bob", "cat", "eve"}),  # bob: no visit, so not
    ({"not": c("average_spend_cents", "gte", 0)}, {"bob"}),
    ({"not": c("first_visit_at", "before", "ago(40)")}, {"bob", "cat", "dan", "eve"}),
    ({"not": c("spend_cents_in_last_days", "gte", 1, days=10)}, {"bob", "cat", "eve"}),
    ({"not": {"not": c("email_consent", "eq", "unsubscribed")}}, {"bob"}),
    (
        # "regulars who spent 7,000 or more but have not come in for a week, except those we
        # messaged this month"
        {
            "all": [
                c("total_spend_cents", "gte", 7000),
                c("visits_in_last_days", "lte", 0, days=7),
                {"not": c("messaged_in_last_days", "eq", True, days=30)},
            ]
        },
        {"cat"},
    ),
    (
        {
            "any": [
                {"all": [c("registered_at", "within_days", 30), c("visit_count", "gte", 2)]},
                {"not": {"any": [c("email_consent", "eq", "subscribed"), c("visit_count", "gte", 1)]}},
                c("spend_cents_in_last_days", "gte", 10_000, days=45),
            ]
        },
        {"dan", "bob", "cat"},
    ),
]


def _resolved(node, shop: Shop):
    """The rule with `ago(N)` and campaign names replaced by what they stand for."""
    if isinstance(node, dict):
        return {key: _resolved(value, shop) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value, shop) for value in node]
    if isinstance(node, str) and node.startswith("ago("):
        return shop.ago(int(node[4:-1]))
    if node in ("spring", "summer"):
        return str(getattr(shop, node))
    return node


def test_every_field_and_operator_selects_the_members_computed_by_hand(container, shop):
    wrong = []
    for rule, expected in CASES:
        result = container.segment_queries.count(shop.pizza, parse_rule(_resolved(rule, shop)), shop.now)
        members = shop.names(row["id"] for row in result["sample"]) if result["count"] <= 5 else None
        if result["count"] != len(expected) or members != expected:
            wrong.append((rule, expected, result["count"], members))
    assert wrong == []


def test_members_are_the_customers_rows_newest_first_page_by_page(container, shop):
    rule = parse_rule(c("email_consent", "eq", "subscribed"))
    first = container.segment_queries.members(None, shop.pizza, rule, shop.now, 1, 3)
    assert (first.count, first.has_next) == (4, True)
    # Check a page holds the rows the customers list gives, in its order (newest first).
    listed = container.queries.customers(None, shop.pizza, None, 1, 50).items
    assert (
        first.items == [row for row in listed if row["id"] in {shop.ids[n] for n in ("ann", "cat", "dan", "eve")}][:3]
    )
    assert shop.names(row["id"] for row in first.items) == {"dan", "eve", "cat"}
    # Check the cursor and the page number both lead to the last one.
    by_cursor = container.segment_queries.members(None, shop.pizza, rule, shop.now, 2, 3, after=first.after)
    by_number = container.segment_queries.members(None, shop.pizza, rule, shop.now, 2, 3)
    assert [row["id"] for row in by_cursor.items] == [row["id"] for row in by_number.items] == [shop.ids["ann"]]
    assert (by_cursor.count, by_cursor.has_next, by_number.has_next) == (4, False, False)
    past_the_end = container.segment_queries.members(None, shop.pizza, rule, shop.now, 3, 3)
    assert (past_the_end.count, past_the_end.items, past_the_end.has_next) == (4, [], False)
    # Check another restaurant's scope sees none of them.
    assert container.segment_queries.members(shop.tacos, shop.pizza, rule, shop.now, 1, 3).count == 0
    assert container.segment_queries.members(shop.pizza, shop.pizza, rule, shop.now, 1, 3).count == 4


def test_the_sample_is_the_five_newest_members(container, shop):
    result = container.segment_queries.count(shop.pizza, parse_rule(c("visit_count", "gte", 0)), shop.now)
    assert result["count"] == 5
    assert [row["id"] for row in result["sample"]] == [shop.ids[n] for n in ("dan", "eve", "cat", "bob", "ann")]
    assert result["sample"][0]["total_spend_cents"] == 7000
    assert result["sample"][0]["restaurant_name"] == "Pizza Palace"


# (rule, started days ago, expected audience, expected left out as unsubscribed)
AS_OF = [
    (c("total_spend_cents", "gte", 5000), 12, {"ann", "cat"}, 0),  # ann's 3000 at 10 not yet; dan not registered
    (c("total_spend_cents", "gte", 6000), 20, {"cat", "fay"}, 0),  # fay deleted at 15: after the start
    (c("total_spend_cents", "gte", 6000), 12, {"cat"}, 0),  # fay deleted before it
    (c("last_visit_at", "older_than_days", 30), 12, {"ann"}, 0),  # ann's last was at 90 then
    (c("first_visit_at", "within_days", 30), 12, {"cat", "eve"}, 0),
    (c("visit_count", "lte", 0), 12, set(), 1),  # bob, unsubscribed
    (c("last_visit_at", "never"), 45, {"cat"}, 1),  # cat's visit at 40 not yet
    (c("average_spend_cents", "gte", 5000), 12, {"ann", "cat"}, 0),
    (c("spend_cents_in_last_days", "gte", 1, days=30), 12, {"cat"}, 0),  # window 42..12 days ago
    (c("visits_in_last_days", "gte", 1, days=30), 12, {"cat", "eve"}, 0),
    (c("messaged_in_last_days", "eq", True, days=30), 12, {"ann", "eve"}, 0),  # summer's at 3: later
    (c("received_campaign", "eq", True, campaign="summer"), 2, {"dan"}, 0),
    (c("received_campaign", "eq", True, campaign="summer"), 12, set(), 0),
    (c("registered_at", "within_days", 30), 12, {"eve"}, 0),  # dan registered after the start
]


def test_the_audience_reads_the_rule_as_of_the_start(container, shop):
    wrong = []
    for rule, days_ago, expected, unsubscribed in AS_OF:
        ids, left_out = container.segment_queries.audience(
            shop.pizza, parse_rule(_resolved(rule, shop)), shop.now - days_ago * DAY
        )
        if (shop.names(ids), left_out) != (expected, unsubscribed) or ids != sorted(ids):
            wrong.append((rule, days_ago, expected, unsubscribed, shop.names(ids), left_out))
    assert wrong == []


@pytest.mark.parametrize("days", [0, 10, 20, 30, 45, 60, 90, 100, 101])
def test_the_inactive_shorthand_selects_what_inactive_customers_and_the_audience_select(container, shop, days):
    rule = parse_rule(shorthand_rule("inactive_days", days))
    queries = container.segment_queries
    inactive = container.queries.inactive_customers(None, shop.pizza, days, shop.now, 1, 50)
    assert _ids(queries.members(None, shop.pizza, rule, shop.now, 1, 50)) == _ids(inactive)
    for started_days_ago in (0, 12, 20, 60):
        started = shop.now - started_days_ago * DAY
        expected = container.campaign_queries.audience(shop.pizza, "inactive_days", days, started)
        assert queries.audience(shop.pizza, rule, started) == expected


@pytest.mark.parametrize("cents", [0, 1, 5000, 7000, 8000, 10_000, 10_001])
def test_the_high_spenders_shorthand_selects_what_high_spenders_and_the_audience_select(container, shop, cents):
    rule = parse_rule(shorthand_rule("high_spenders", cents))
    queries = container.segment_queries
    spenders = container.queries.high_spenders(None, shop.pizza, cents, 1, 50)
    assert _ids(queries.members(None, shop.pizza, rule, shop.now, 1, 50)) == _ids(spenders)
    for started_days_ago in (0, 12, 20, 60):
        started = shop.now - started_days_ago * DAY
        expected = container.campaign_queries.audience(shop.pizza, "high_spenders", cents, started)
        assert queries.audience(shop.pizza, rule, started) == expected


def _ids(page) -> set[UUID]:
    return {row["id"] for row in page.items}


def _first_visit(container, customer_id: UUID) -> datetime | None:
    with container.engine.connect() as conn:
        first = conn.execute(select(customers.c.first_visit_at).where(customers.c.id == customer_id)).scalar()
    return first if first is None or first.tzinfo else first.replace(tzinfo=timezone.utc)


def test_the_first_visit_follows_visits_recorded_corrected_and_voided(application, container, clock):
    restaurant = application.open_restaurant("Pizza Palace", actor="admin")
    ann = application.register_customer(restaurant, "ann@example.com", "Ann", "X", actor="a", scope=None)
    assert _first_visit(container, ann) is None
    now = clock.now
    fifth = application.record_visit(ann, 100, now - 5 * DAY, actor="a", scope=None)
    assert _first_visit(container, ann) == now - 5 * DAY
    # Check an earlier visit moves it back, a later one does not.
    ninth = application.record_visit(ann, 100, now - 9 * DAY, actor="a", scope=None)
    application.record_visit(ann, 100, now - 2 * DAY, actor="a", scope=None)
    assert _first_visit(container, ann) == now - 9 * DAY
    # Check a correction and a void recount it from the visits left.
    application.correct_visit(ninth, actor="a", scope=None, visited_at=now - DAY)
    assert _first_visit(container, ann) == now - 5 * DAY
    application.void_visit(fifth, actor="a", scope=None)
    assert _first_visit(container, ann) == now - 2 * DAY
    rule = parse_rule(c("first_visit_at", "within_days", 2))
    assert container.segment_queries.count(restaurant, rule, now)["count"] == 1
    # Check visits projected in one batch, the later one first, leave the earliest.
    bob = application.register_customer(restaurant, "bob@example.com", "Bob", "X", actor="a", scope=None)
    batch = [Visit.record(uuid4(), bob, 100, now - days * DAY, "a", now) for days in (3, 8, 5)]
    container.application.save(*batch, owners={visit.id: bob for visit in batch})
    container.runner.catch_up()
    assert _first_visit(container, bob) == now - 8 * DAY


def test_migration_0014_fills_in_the_first_visits_already_projected(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'upgrade.sqlite3'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    one, two, none = UUID(int=1), UUID(int=2), UUID(int=3)
    at = datetime(2026, 1, 10, tzinfo=timezone.utc)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0013")
        blank = {"email": "", "first_name": "", "last_name": "", "search_text": "", "total_spend_cents": 0}
        conn.execute(
            customers.insert(),
            [
                {"id": id, "restaurant_id": id, **blank, "visit_count": 0, "last_active_at": at, "created_at": at}
                for id in (one, two, none)
            ],
        )
        conn.execute(
            visits.insert(),
            [
                {
                    "id": UUID(int=10 + n),
                    "customer_id": id,
                    "restaurant_id": id,
                    "spend_cents": 1,
                    "visited_at": at + n * DAY,
                }
                for n, id in enumerate((two, one, one, two))
            ],
        )
        command.upgrade(config, "0014")
    with engine.connect() as conn:
        first = dict(conn.execute(select(customers.c.id, customers.c.first_visit_at)).all())
    engine.dispose()
    assert first == {one: (at + DAY).replace(tzinfo=None), two: at.replace(tzinfo=None), none: None}
