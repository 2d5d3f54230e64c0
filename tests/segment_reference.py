"""A plain-Python reading of segment rules, for tests only: what the compiled SQL must select.

It follows the rules' definitions word for word, from a customer's raw facts (their visits and
outreach records), not from the read model's totals, so that the SQL is checked against the
meaning and not against itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from crm.write_model.segment_rules import All, Any, Condition, Field, Not, Op, Rule


@dataclass(frozen=True)
class Sent:
    """One outreach record of a customer."""

    campaign_id: UUID
    restaurant_id: UUID
    status: str
    sent_at: datetime | None


@dataclass
class Person:
    """A customer as the rules see them."""

    id: UUID
    restaurant_id: UUID
    created_at: datetime
    deleted_at: datetime | None = None
    email_consent: str = "subscribed"
    visits: list[tuple[datetime, int]] = field(default_factory=list)  # (visited_at, spend_cents)
    outreach: list[Sent] = field(default_factory=list)


def members(rule: Rule, people: list[Person], restaurant_id: UUID, now: datetime) -> set[UUID]:
    """The restaurant's customers, not deleted, who match `rule` at `now`."""
    return {p.id for p in people if p.restaurant_id == restaurant_id and p.deleted_at is None and matches(rule, p, now)}


def audience(rule: Rule, people: list[Person], restaurant_id: UUID, started_at: datetime) -> tuple[set[UUID], int]:
    """The campaign audience at `started_at`: registered by then, not deleted by then, matching as
    of then; the unsubscribed (now) left out and counted."""
    matched = [
        p
        for p in people
        if p.restaurant_id == restaurant_id
        and p.created_at <= started_at
        and (p.deleted_at is None or p.deleted_at > started_at)
        and matches(rule, p, started_at, as_of=True)
    ]
    kept = {p.id for p in matched if p.email_consent != "unsubscribed"}
    return kept, len(matched) - len(kept)


def matches(rule: Rule, person: Person, now: datetime, as_of: bool = False) -> bool:
    """Whether `person` matches `rule` at `now` (`as_of`: counting only what happened by `now`)."""
    if isinstance(rule, All):
        return all(matches(child, person, now, as_of) for child in rule.children)
    if isinstance(rule, Any):
        return any(matches(child, person, now, as_of) for child in rule.children)
    if isinstance(rule, Not):
        return not matches(rule.child, person, now, as_of)
    assert isinstance(rule, Condition)
    return _condition(rule, person, now, as_of)


def _condition(rule: Condition, person: Person, now: datetime, as_of: bool) -> bool:
    visits = [(at, spend) for at, spend in person.visits if not as_of or at <= now]
    total = sum(spend for _, spend in visits)
    count = len(visits)
    days = timedelta(days=rule.days or 0)
    f = rule.field
    if f is Field.TOTAL_SPEND_CENTS:
        return _amount(total, rule)
    if f is Field.VISIT_COUNT:
        return _amount(count, rule)
    if f is Field.AVERAGE_SPEND_CENTS:
        if count == 0:
            return False
        low, high = rule.value if rule.op is Op.BETWEEN else (rule.value, rule.value)
        at_least = total >= low * count
        at_most = total <= high * count
        return {Op.GTE: at_least, Op.LTE: at_most, Op.BETWEEN: at_least and at_most}[rule.op]
    if f in (Field.LAST_VISIT_AT, Field.FIRST_VISIT_AT):
        if rule.op is Op.NEVER:
            return count == 0
        if count == 0:
            return False
        times = [at for at, _ in visits]
        return _moment(max(times) if f is Field.LAST_VISIT_AT else min(times), rule, now)
    if f is Field.REGISTERED_AT:
        return _moment(person.created_at, rule, now)
    if f is Field.SPEND_CENTS_IN_LAST_DAYS:
        return _amount(sum(spend for at, spend in visits if at >= now - days), rule)
    if f is Field.VISITS_IN_LAST_DAYS:
        return _amount(sum(1 for at, _ in visits if at >= now - days), rule)
    if f is Field.EMAIL_CONSENT:
        return person.email_consent == rule.value
    sent = [o for o in person.outreach if o.status == "sent"]
    if as_of:
        sent = [o for o in sent if o.sent_at is not None and o.sent_at <= now]
    if f is Field.MESSAGED_IN_LAST_DAYS:
        found = any(
            o.restaurant_id == person.restaurant_id and o.sent_at is not None and o.sent_at >= now - days for o in sent
        )
    else:
        assert f is Field.RECEIVED_CAMPAIGN
        found = any(o.campaign_id == rule.campaign for o in sent)
    return found == rule.value


def _amount(value: int, rule: Condition) -> bool:
    if rule.op is Op.GTE:
        return value >= rule.value
    if rule.op is Op.LTE:
        return value <= rule.value
    low, high = rule.value
    return low <= value <= high


def _moment(at: datetime, rule: Condition, now: datetime) -> bool:
    if rule.op is Op.WITHIN_DAYS:
        return at >= now - timedelta(days=rule.value)
    if rule.op is Op.OLDER_THAN_DAYS:
        return at < now - timedelta(days=rule.value)
    if rule.op is Op.BEFORE:
        return at < rule.value
    assert rule.op is Op.AFTER
    return at > rule.value
