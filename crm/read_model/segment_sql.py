"""Segment rules compiled to SQLAlchemy expressions over the read tables (values always bound
as parameters: nothing of a rule becomes SQL text).

Every condition compiles to an expression that is true or false, never NULL: SQL's NOT of NULL
is NULL, where a rule's `not` of a false condition (a customer without visits has no last visit)
is true.

Two readings of a rule:
- live, at `now`: the `customers` row's totals (`total_spend_cents`, `visit_count`,
  `last_visit_at`, `first_visit_at`, kept by the customers projector), windows summed from
  `visits` at query time (by `ix_visits_restaurant_visited`: the window's visits, or the
  older ones subtracted from the totals when fewer), outreach from `outreach_events`;
- as of a moment (a campaign's start): every visit-derived value from the visits made up to that
  moment, and only the outreach sent up to it; consent as it is now (a send checks it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from sqlalchemy import BigInteger, ColumnElement, Integer, Select, and_, cast, exists, func, not_, or_, select
from sqlalchemy.sql import FromClause

from crm.read_model.tables import customers, outreach_events, visits
from crm.write_model.segment_rules import VISIT_MOMENTS, All, Any, Condition, Field, Not, Op, Rule
from crm.write_model.vocabulary import OutreachStatus


def matching(
    rule: Rule,
    restaurant_id: UUID,
    now: datetime,
    *columns,
    as_of: bool = False,
    first_visit: datetime | None = None,
) -> Select:
    """SELECT `columns` of the restaurant's customers (deleted or not: the caller decides) who
    match `rule` at `now`, live or (`as_of`) counting only what had happened by `now`.

    `first_visit`, live only: the restaurant's earliest visit, a hint for the plan. A window
    reaching back over more than half of that history is read as the customers' totals less
    their older visits (fewer rows to sum). Both readings are exact: a stale hint costs time,
    never a wrong answer."""
    compiler = _Compiler(restaurant_id, now, as_of, first_visit)
    condition = compiler.condition(rule)
    return select(*columns).select_from(compiler.joined()).where(customers.c.restaurant_id == restaurant_id, condition)


@dataclass(frozen=True)
class _Facts:
    """A customer's visit-derived values, as columns of the query."""

    total: ColumnElement
    count: ColumnElement
    last_visit: ColumnElement
    first_visit: ColumnElement


class _Compiler:
    """One rule's compilation: the conditions, and the tables they join to `customers`."""

    def __init__(self, restaurant_id: UUID, now: datetime, as_of: bool, first_visit: datetime | None):
        self.restaurant_id = restaurant_id
        # SQLite stores a datetime's wall clock without its offset: bind every time in UTC.
        self.now = now.astimezone(timezone.utc)
        self.as_of = as_of
        self.first_visit = first_visit
        self.joins: list[tuple[FromClause, ColumnElement]] = []
        self._facts: _Facts | None = None
        self._windows: dict[int, tuple[ColumnElement, ColumnElement]] = {}

    def joined(self) -> FromClause:
        """`customers` with the per-customer tables the conditions read (one row each, or none)."""
        joined: FromClause = customers
        for table, on in self.joins:
            joined = joined.outerjoin(table, on)
        return joined

    def condition(self, rule: Rule) -> ColumnElement:
        if isinstance(rule, All):
            return and_(*(self.condition(child) for child in rule.children))
        if isinstance(rule, Any):
            return or_(*(self.condition(child) for child in rule.children))
        if isinstance(rule, Not):
            return not_(self.condition(rule.child))
        assert isinstance(rule, Condition)
        return self._leaf(rule)

    def _leaf(self, rule: Condition) -> ColumnElement:
        field = rule.field
        if field is Field.TOTAL_SPEND_CENTS:
            return _amount(self.facts.total, rule)
        if field is Field.VISIT_COUNT:
            return _amount(self.facts.count, rule)
        if field is Field.AVERAGE_SPEND_CENTS:
            return self._average(rule)
        if field in VISIT_MOMENTS:
            facts = self.facts
            if rule.op is Op.NEVER:
                return facts.last_visit.is_(None)
            moment = facts.last_visit if field is Field.LAST_VISIT_AT else facts.first_visit
            # A customer has a first visit exactly when they have a last one (a column, cheaper).
            return and_(facts.last_visit.is_not(None), self._moment(moment, rule))
        if field is Field.REGISTERED_AT:
            return self._moment(customers.c.created_at, rule)
        if field is Field.SPEND_CENTS_IN_LAST_DAYS:
            return _amount(self._window(rule.days)[0], rule)
        if field is Field.VISITS_IN_LAST_DAYS:
            visited = self._visited_within(rule)
            return visited if visited is not None else _amount(self._window(rule.days)[1], rule)
        if field is Field.EMAIL_CONSENT:
            return customers.c.email_consent == rule.value
        if field is Field.MESSAGED_IN_LAST_DAYS:
            since = outreach_events.c.sent_at >= self.now - timedelta(days=rule.days)
            return self._sent(rule.value, outreach_events.c.restaurant_id == self.restaurant_id, since)
        assert field is Field.RECEIVED_CAMPAIGN
        return self._sent(rule.value, outreach_events.c.campaign_id == rule.campaign)

    def _visited_within(self, rule: Condition) -> ColumnElement | None:
        """The counts "at least one visit in the window" (gte 1) and "none" (lte 0) read the last visit
        (a column, or the history's) instead of summing the window: the last visit up to now is in
        the window exactly when some visit is. None for the other counts."""
        if (rule.op, rule.value) not in ((Op.GTE, 1), (Op.LTE, 0)):
            return None
        last = self.facts.last_visit
        some = and_(last.is_not(None), last >= self.now - timedelta(days=rule.days))
        return some if rule.op is Op.GTE else not_(some)

    def _moment(self, moment: ColumnElement, rule: Condition) -> ColumnElement:
        if rule.op is Op.WITHIN_DAYS:
            return moment >= self.now - timedelta(days=rule.value)
        if rule.op is Op.OLDER_THAN_DAYS:
            return moment < self.now - timedelta(days=rule.value)
        if rule.op is Op.BEFORE:
            return moment < rule.value
        assert rule.op is Op.AFTER
        return moment > rule.value

    def _average(self, rule: Condition) -> ColumnElement:
        # total / count exactly, in integers: avg >= V iff floor(total / count) >= V, and
        # avg <= V iff ceil(total / count) <= V. No visit: no average (and no division by 0).
        total, count = self.facts.total, self.facts.count
        divisor = func.nullif(count, 0, type_=Integer)
        floor = total // divisor
        ceiling = (total + count - 1) // divisor
        if rule.op is Op.GTE:
            test = floor >= rule.value
        elif rule.op is Op.LTE:
            test = ceiling <= rule.value
        else:
            test = and_(floor >= rule.value[0], ceiling <= rule.value[1])
        return and_(count > 0, test)

    def _sent(self, wanted: bool, *which: ColumnElement) -> ColumnElement:
        """Whether the customer has a sent outreach record matching `which` (or has none)."""
        sent = [
            outreach_events.c.customer_id == customers.c.id,
            outreach_events.c.status == OutreachStatus.SENT.value,
            *which,
        ]
        if self.as_of:
            sent.append(outreach_events.c.sent_at <= self.now)
        found = exists().where(*sent)
        return found if wanted else not_(found)

    @property
    def facts(self) -> _Facts:
        if self._facts is None:
            self._facts = self._history() if self.as_of else _LIVE
        return self._facts

    def _history(self) -> _Facts:
        """Totals of the visits made up to `now`, per customer (as of `now`)."""
        history = (
            select(
                visits.c.customer_id,
                cast(func.sum(visits.c.spend_cents), BigInteger).label("spend"),
                func.count().label("visits"),
                func.max(visits.c.visited_at).label("last_visit"),
                func.min(visits.c.visited_at).label("first_visit"),
            )
            .where(visits.c.restaurant_id == self.restaurant_id, visits.c.visited_at <= self.now)
            .group_by(visits.c.customer_id)
            .subquery("history")
        )
        self.joins.append((history, history.c.customer_id == customers.c.id))
        return _Facts(
            total=func.coalesce(history.c.spend, 0),
            count=func.coalesce(history.c.visits, 0),
            last_visit=history.c.last_visit,
            first_visit=history.c.first_visit,
        )

    def _window(self, days: int) -> tuple[ColumnElement, ColumnElement]:
        """Spend and visits per customer in the last `days` x 24 h (up to `now` when as of it)."""
        if days not in self._windows:
            cutoff = self.now - timedelta(days=days)
            first = self.first_visit
            if self.as_of or first is None or 2 * (self.now - cutoff) <= self.now - first:
                part = self._visits_grouped(f"window_{days}", visits.c.visited_at >= cutoff)
                self._windows[days] = (func.coalesce(part.c.spend, 0), func.coalesce(part.c.visits, 0))
            else:  # most of them are in the window: the totals less the older visits read fewer rows
                part = self._visits_grouped(f"before_{days}", visits.c.visited_at < cutoff)
                self._windows[days] = (
                    customers.c.total_spend_cents - func.coalesce(part.c.spend, 0),
                    customers.c.visit_count - func.coalesce(part.c.visits, 0),
                )
        return self._windows[days]

    def _visits_grouped(self, name: str, when: ColumnElement) -> FromClause:
        """Spend and visits per customer of the restaurant's visits `when` (and up to `now`, as of it)."""
        which = [visits.c.restaurant_id == self.restaurant_id, when]
        if self.as_of:
            which.append(visits.c.visited_at <= self.now)
        part = (
            select(
                visits.c.customer_id,
                cast(func.sum(visits.c.spend_cents), BigInteger).label("spend"),
                func.count().label("visits"),
            )
            .where(*which)
            .group_by(visits.c.customer_id)
            .subquery(name)
        )
        self.joins.append((part, part.c.customer_id == customers.c.id))
        return part


def _amount(value: ColumnElement, rule: Condition) -> ColumnElement:
    if rule.op is Op.GTE:
        return value >= rule.value
    if rule.op is Op.LTE:
        return value <= rule.value
    low, high = rule.value
    return and_(value >= low, value <= high)


_LIVE = _Facts(
    total=customers.c.total_spend_cents,
    count=customers.c.visit_count,
    last_visit=customers.c.last_visit_at,
    first_visit=customers.c.first_visit_at,
)
