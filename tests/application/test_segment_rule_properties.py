"""Property tests: the compiled SQL of random segment rules selects what the plain-Python
reference (tests/segment_reference.py) selects, over random customers, live and as of a start.

The customers, visits and outreach records are written straight into the read tables (only
here, in a test: in the service only projectors write them), with the totals the customers
projector would keep. Times sit on a coarse grid (12 hours over a few months), so the rules'
cut-offs often fall exactly on visits, registrations and sends.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete

from crm.read_model.segment_queries import SegmentQueries
from crm.read_model.tables import customers, outreach_events, restaurants, visits
from crm.write_model.segment_rules import MAX_CONDITIONS, Not, parse_rule
from tests import segment_reference as reference
from tests.segment_reference import Person, Sent

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
DAY, STEP = timedelta(days=1), timedelta(hours=12)
RESTAURANT, OTHER, SMALL = UUID(int=0x5E61), UUID(int=0x5E62), UUID(int=0x5E63)
CAMPAIGNS = [UUID(int=0xCA01), UUID(int=0xCA02), UUID(int=0xCA03)]
OTHER_CAMPAIGN = UUID(int=0xCA04)  # the other restaurant's
SPENDS = [0, 100, 250, 999, 1000, 3333, 5000, 20_000]
FAST = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def grid_time(steps: int) -> datetime:
    """`steps` x 12 h before NOW (negative: after it)."""
    return NOW - steps * STEP


# -- rules ------------------------------------------------------------------------------------

moments = st.integers(-2, 160).map(grid_time)
offsets = st.sampled_from([timedelta(0), timedelta(hours=2), timedelta(hours=-5, minutes=-30)])
iso_moments = st.builds(lambda at, offset: at.astimezone(timezone(offset)).isoformat(), moments, offsets)
cents = st.one_of(st.sampled_from([0, 1, 100, 250, 999, 1000, 1001, 3333, 5000, 10_000]), st.integers(0, 30_000))
counts = st.integers(0, 5)
day_counts = st.integers(0, 60)
window_days = st.integers(1, 60)


def _ranges(values):
    return st.tuples(values, values).map(sorted).map(list)


def _amounts(field: str, values):
    return st.one_of(
        st.builds(lambda op, v: {"field": field, "op": op, "value": v}, st.sampled_from(["gte", "lte"]), values),
        st.builds(lambda v: {"field": field, "op": "between", "value": v}, _ranges(values)),
    )


def _moments(field: str, never: bool):
    options = [
        st.builds(
            lambda op, v: {"field": field, "op": op, "value": v},
            st.sampled_from(["within_days", "older_than_days"]),
            day_counts,
        ),
        st.builds(
            lambda op, v: {"field": field, "op": op, "value": v}, st.sampled_from(["before", "after"]), iso_moments
        ),
    ]
    if never:
        options.append(st.just({"field": field, "op": "never"}))
    return st.one_of(options)


def _windows(field: str, values):
    return st.builds(
        lambda op, v, d: {"field": field, "op": op, "value": v, "days": d},
        st.sampled_from(["gte", "lte"]),
        values,
        window_days,
    )


conditions = st.one_of(
    _amounts("total_spend_cents", cents),
    _amounts("visit_count", counts),
    _amounts("average_spend_cents", cents),
    _moments("last_visit_at", never=True),
    _moments("first_visit_at", never=True),
    _moments("registered_at", never=False),
    _windows("spend_cents_in_last_days", cents),
    _windows("visits_in_last_days", counts),
    st.builds(
        lambda v: {"field": "email_consent", "op": "eq", "value": v}, st.sampled_from(["subscribed", "unsubscribed"])
    ),
    st.builds(
        lambda v, d: {"field": "messaged_in_last_days", "op": "eq", "value": v, "days": d}, st.booleans(), window_days
    ),
    st.builds(
        lambda v, c: {"field": "received_campaign", "op": "eq", "value": v, "campaign": str(c)},
        st.booleans(),
        st.sampled_from([*CAMPAIGNS, OTHER_CAMPAIGN, UUID(int=0xCA05)]),
    ),
)


def _rules(depth: int):
    if depth == 1:
        return conditions
    inner = _rules(depth - 1)
    return st.one_of(
        conditions,
        st.builds(lambda children: {"all": children}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda children: {"any": children}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda child: {"not": child}, inner),
    )


def _size(rule: dict) -> int:
    """How many conditions a rule's JSON holds."""
    for group in ("all", "any"):
        if group in rule:
            return sum(_size(child) for child in rule[group])
    return _size(rule["not"]) if "not" in rule else 1


rules = _rules(5).filter(lambda rule: _size(rule) <= MAX_CONDITIONS).map(parse_rule)
nows = st.integers(-1, 20).map(grid_time)

# -- customers --------------------------------------------------------------------------------


def _random_people(rng: random.Random, restaurant_id: UUID, campaigns: list[UUID], size: int) -> list[Person]:
    people = []
    for _ in range(size):
        created = grid_time(rng.randrange(-2, 160))
        person = Person(
            id=uuid4(),
            restaurant_id=restaurant_id,
            created_at=created,
            deleted_at=grid_time(rng.randrange(-2, 40)) if rng.random() < 0.15 else None,
            email_consent="unsubscribed" if rng.random() < 0.25 else "subscribed",
            visits=[
                (grid_time(rng.randrange(-2, 120)), rng.choice(SPENDS)) for _ in range(rng.choice([0, 0, 1, 2, 3, 5]))
            ],
        )
        for campaign in campaigns:
            if rng.random() < 0.4:
                status = rng.choice(["sent", "sent", "failed", "queued", "skipped"])
                sent_at = grid_time(rng.randrange(-2, 80)) if status == "sent" else None
                person.outreach.append(Sent(campaign, restaurant_id, status, sent_at))
        people.append(person)
    return people


people_strategy = st.lists(
    st.builds(
        lambda created, deleted, unsubscribed, visits, outreach: Person(
            id=uuid4(),
            restaurant_id=SMALL,
            created_at=created,
            deleted_at=deleted,
            email_consent="unsubscribed" if unsubscribed else "subscribed",
            visits=visits,
            outreach=[Sent(c, SMALL, s, at if s == "sent" else None) for c, s, at in outreach],
        ),
        moments,
        st.one_of(st.none(), moments),
        st.booleans(),
        st.lists(st.tuples(moments, st.sampled_from(SPENDS)), max_size=4),
        st.lists(
            st.tuples(st.sampled_from(CAMPAIGNS), st.sampled_from(["sent", "failed", "queued"]), moments), max_size=3
        ),
    ),
    max_size=6,
)


def _insert(engine, people: list[Person]) -> None:
    """The rows the projectors would hold for these people."""
    customer_rows, visit_rows, outreach_rows = [], [], []
    for p in people:
        times = [at for at, _ in p.visits]
        row = {
            "id": p.id,
            "restaurant_id": p.restaurant_id,
            "email": f"{p.id.hex}@example.com",
            "first_name": "P",
            "last_name": p.id.hex[:8],
            "search_text": p.id.hex,
            "total_spend_cents": sum(spend for _, spend in p.visits),
            "visit_count": len(p.visits),
            "last_visit_at": max(times, default=None),
            "last_active_at": max(times, default=p.created_at),
            "created_at": p.created_at,
            "deleted_at": p.deleted_at,
            "email_consent": p.email_consent,
            "email_consent_changed_at": p.created_at,
            "erased_at": None,
        }
        if "first_visit_at" in customers.c:
            row["first_visit_at"] = min(times, default=None)
        customer_rows.append(row)
        visit_rows += [
            {"id": uuid4(), "customer_id": p.id, "restaurant_id": p.restaurant_id, "spend_cents": s, "visited_at": at}
            for at, s in p.visits
        ]
        outreach_rows += [
            {
                "id": uuid4(),
                "campaign_id": o.campaign_id,
                "customer_id": p.id,
                "restaurant_id": o.restaurant_id,
                "channel": "email",
                "status": o.status,
                "error_message": None,
                "attempts": 1,
                "sent_at": o.sent_at,
                "created_at": NOW - 300 * DAY,
            }
            for o in p.outreach
        ]
    with engine.begin() as conn:
        for table, rows in ((customers, customer_rows), (visits, visit_rows), (outreach_events, outreach_rows)):
            if rows:
                conn.execute(table.insert(), rows)


def _remove(engine, restaurant_ids) -> None:
    with engine.begin() as conn:
        for table in (customers, visits, outreach_events):
            conn.execute(delete(table).where(table.c.restaurant_id.in_(restaurant_ids)))
        conn.execute(delete(restaurants).where(restaurants.c.id.in_(restaurant_ids)))


@pytest.fixture(scope="module")
def engine(settings):
    engine = create_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def crowd(engine) -> list[Person]:
    """80 customers of the restaurant and 15 of another, written once for the module's examples."""
    rng = random.Random(20261205)
    people = _random_people(rng, RESTAURANT, CAMPAIGNS, 80) + _random_people(rng, OTHER, [OTHER_CAMPAIGN], 15)
    _remove(engine, [RESTAURANT, OTHER])
    with engine.begin() as conn:
        conn.execute(
            restaurants.insert(),
            [
                {"id": id, "name": f"R{n}", "timezone": "UTC", "created_at": NOW - 500 * DAY}
                for n, id in enumerate((RESTAURANT, OTHER))
            ],
        )
    _insert(engine, people)
    yield people
    _remove(engine, [RESTAURANT, OTHER])


def _check(queries: SegmentQueries, people: list[Person], restaurant_id: UUID, rule, now, started) -> None:
    expected = reference.members(rule, people, restaurant_id, now)
    page = queries.members(None, restaurant_id, rule, now, 1, 200)
    assert {row["id"] for row in page.items} == expected
    assert page.count == len(expected)
    assert queries.count(restaurant_id, rule, now)["count"] == len(expected)
    ids, unsubscribed = queries.audience(restaurant_id, rule, started)
    expected_ids, expected_unsubscribed = reference.audience(rule, people, restaurant_id, started)
    assert (set(ids), unsubscribed) == (expected_ids, expected_unsubscribed)
    assert ids == sorted(ids)


@FAST
@given(rule=rules, now=nows, started=nows)
def test_sql_agrees_with_the_reference_on_a_crowd(engine, crowd, rule, now, started):
    _check(SegmentQueries(engine), crowd, RESTAURANT, rule, now, started)


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(condition=conditions.map(parse_rule), negated=st.booleans(), now=nows, started=nows)
def test_each_condition_and_its_negation_agree_with_the_reference(engine, crowd, condition, negated, now, started):
    rule = Not(condition) if negated else condition
    _check(SegmentQueries(engine), crowd, RESTAURANT, rule, now, started)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=people_strategy, rule=rules, now=nows, started=nows)
def test_sql_agrees_with_the_reference_on_random_customers(engine, people, rule, now, started):
    _remove(engine, [SMALL])
    try:
        _insert(engine, people)
        _check(SegmentQueries(engine), people, SMALL, rule, now, started)
    finally:
        _remove(engine, [SMALL])


def test_the_rule_strategy_reaches_every_field_and_a_depth_of_five():
    # A property is only as good as the rules it draws: check they cover the allow-list.
    seen_fields, deepest = set(), 0

    @settings(max_examples=300, database=None, deadline=None)
    @given(rule=rules)
    def collect(rule):
        nonlocal deepest
        seen_fields.update(c.field for c in rule.conditions())
        deepest = max(deepest, _depth(rule))
        assert len(rule.conditions()) <= MAX_CONDITIONS

    collect()
    assert len(seen_fields) == 11
    assert deepest == 5


def _depth(rule) -> int:
    children = getattr(rule, "children", None) or ([rule.child] if hasattr(rule, "child") else [])
    return 1 + max((_depth(child) for child in children), default=0)
