"""Segment rules: a tree of conditions over a restaurant's customers, checked and canonical.

A rule is JSON: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` or a condition
`{"field": F, "op": OP, "value": V}` (with `days` for the window fields and `campaign` for
`received_campaign`). `parse_rule` checks it against the allow-list below and returns a frozen
tree; `as_json` gives it back in canonical form. What a rule means is defined once, by the read
model's compiler (`crm/read_model/segment_sql.py`) and its reference evaluator in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from uuid import UUID

from crm.write_model.errors import InvalidInput
from crm.write_model.vocabulary import SegmentType

MAX_DEPTH = 5  # a bare condition is depth 1
MAX_CONDITIONS = 30
MAX_CENTS = 10**12
MAX_COUNT = 10**9
MAX_DAYS = 36_500


class Field(StrEnum):
    TOTAL_SPEND_CENTS = "total_spend_cents"
    VISIT_COUNT = "visit_count"
    AVERAGE_SPEND_CENTS = "average_spend_cents"
    LAST_VISIT_AT = "last_visit_at"
    FIRST_VISIT_AT = "first_visit_at"
    REGISTERED_AT = "registered_at"
    SPEND_CENTS_IN_LAST_DAYS = "spend_cents_in_last_days"
    VISITS_IN_LAST_DAYS = "visits_in_last_days"
    EMAIL_CONSENT = "email_consent"
    MESSAGED_IN_LAST_DAYS = "messaged_in_last_days"
    RECEIVED_CAMPAIGN = "received_campaign"


class Op(StrEnum):
    GTE = "gte"
    LTE = "lte"
    BETWEEN = "between"
    WITHIN_DAYS = "within_days"
    OLDER_THAN_DAYS = "older_than_days"
    BEFORE = "before"
    AFTER = "after"
    NEVER = "never"
    EQ = "eq"


# The largest value of each amount (total, count, average, window sum or count).
AMOUNT_LIMITS = {
    Field.TOTAL_SPEND_CENTS: MAX_CENTS,
    Field.VISIT_COUNT: MAX_COUNT,
    Field.AVERAGE_SPEND_CENTS: MAX_CENTS,
    Field.SPEND_CENTS_IN_LAST_DAYS: MAX_CENTS,
    Field.VISITS_IN_LAST_DAYS: MAX_COUNT,
}
MOMENTS = (Field.LAST_VISIT_AT, Field.FIRST_VISIT_AT, Field.REGISTERED_AT)
VISIT_MOMENTS = (Field.LAST_VISIT_AT, Field.FIRST_VISIT_AT)
WINDOWS = (Field.SPEND_CENTS_IN_LAST_DAYS, Field.VISITS_IN_LAST_DAYS)
_MOMENT_OPS = (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS, Op.BEFORE, Op.AFTER)
OPS: dict[Field, tuple[Op, ...]] = {
    Field.TOTAL_SPEND_CENTS: (Op.GTE, Op.LTE, Op.BETWEEN),
    Field.VISIT_COUNT: (Op.GTE, Op.LTE, Op.BETWEEN),
    Field.AVERAGE_SPEND_CENTS: (Op.GTE, Op.LTE, Op.BETWEEN),
    Field.LAST_VISIT_AT: (*_MOMENT_OPS, Op.NEVER),
    Field.FIRST_VISIT_AT: (*_MOMENT_OPS, Op.NEVER),
    Field.REGISTERED_AT: _MOMENT_OPS,
    Field.SPEND_CENTS_IN_LAST_DAYS: (Op.GTE, Op.LTE),
    Field.VISITS_IN_LAST_DAYS: (Op.GTE, Op.LTE),
    Field.EMAIL_CONSENT: (Op.EQ,),
    Field.MESSAGED_IN_LAST_DAYS: (Op.EQ,),
    Field.RECEIVED_CAMPAIGN: (Op.EQ,),
}
CONSENTS = ("subscribed", "unsubscribed")  # crm.write_model.vocabulary.EmailConsent's values
_WITH_DAYS = (*WINDOWS, Field.MESSAGED_IN_LAST_DAYS)
_GROUPS = ("all", "any", "not")


class Rule:
    """A node of a rule tree: `All`, `Any`, `Not` or `Condition`."""

    def as_json(self) -> dict:
        """The rule's canonical JSON form: `parse_rule(rule.as_json()) == rule`."""
        raise NotImplementedError

    def conditions(self) -> list[Condition]:
        """Every condition of the tree, in order."""
        raise NotImplementedError


@dataclass(frozen=True)
class All(Rule):
    """True when every child is (`{"all": [...]}`)."""

    children: tuple[Rule, ...]

    def as_json(self) -> dict:
        return {"all": [child.as_json() for child in self.children]}

    def conditions(self) -> list[Condition]:
        return [c for child in self.children for c in child.conditions()]


@dataclass(frozen=True)
class Any(Rule):
    """True when at least one child is (`{"any": [...]}`)."""

    children: tuple[Rule, ...]

    def as_json(self) -> dict:
        return {"any": [child.as_json() for child in self.children]}

    def conditions(self) -> list[Condition]:
        return [c for child in self.children for c in child.conditions()]


@dataclass(frozen=True)
class Not(Rule):
    """True when its child is false (`{"not": {...}}`)."""

    child: Rule

    def as_json(self) -> dict:
        return {"not": self.child.as_json()}

    def conditions(self) -> list[Condition]:
        return self.child.conditions()


@dataclass(frozen=True)
class Condition(Rule):
    """One test of one field. `value` is an int, a `(low, high)` pair (between), an aware UTC
    datetime (before, after), None (never), a consent string or a bool (eq)."""

    field: Field
    op: Op
    value: object = None
    days: int | None = None
    campaign: UUID | None = None

    def __post_init__(self) -> None:
        # Built in code with plain strings, a condition still compares and compiles as parsed.
        object.__setattr__(self, "field", Field(self.field))
        object.__setattr__(self, "op", Op(self.op))

    def as_json(self) -> dict:
        node: dict = {"field": self.field.value, "op": self.op.value}
        if self.op is Op.BETWEEN:
            node["value"] = list(self.value)
        elif isinstance(self.value, datetime):
            node["value"] = self.value.astimezone(timezone.utc).isoformat()
        elif self.op is not Op.NEVER:
            node["value"] = self.value
        if self.days is not None:
            node["days"] = self.days
        if self.campaign is not None:
            node["campaign"] = str(self.campaign)
        return node

    def conditions(self) -> list[Condition]:
        return [self]


def parse_rule(value: object, path: str = "rule") -> Rule:
    """The rule tree `value` describes; InvalidInput naming the offending node's path (under
    `path`, e.g. `rule.all[2].op`) if it breaks the allow-list or the limits."""
    return _Parser().node(value, path, 1)


def shorthand_rule(segment_type: str, segment_value: int) -> dict:
    """The rule (canonical JSON) of one of the two seed segments: inactive for N days (last
    visit, else registration, more than N x 24 h ago), or a total spend of at least X cents."""
    if segment_type == SegmentType.INACTIVE_DAYS:
        return {
            "any": [
                {"field": "last_visit_at", "op": "older_than_days", "value": segment_value},
                {
                    "all": [
                        {"field": "last_visit_at", "op": "never"},
                        {"field": "registered_at", "op": "older_than_days", "value": segment_value},
                    ]
                },
            ]
        }
    if segment_type == SegmentType.HIGH_SPENDERS:
        return {"field": "total_spend_cents", "op": "gte", "value": segment_value}
    raise InvalidInput("segment_type", f"must be one of {_listed(SegmentType)}")


class _Parser:
    """One parse: counts the conditions seen so far."""

    def __init__(self):
        self.conditions = 0

    def node(self, value: object, path: str, depth: int) -> Rule:
        if depth > MAX_DEPTH:
            raise InvalidInput(path, f"nests deeper than {MAX_DEPTH} levels (a condition is one level)")
        if not isinstance(value, dict) or not value:
            raise InvalidInput(path, 'must be an object: {"all": [...]}, {"any": [...]}, {"not": {...}} or a condition')
        group = next((key for key in _GROUPS if key in value), None)
        if group is None:
            return self.condition(value, path)
        for key in value:
            if key != group:
                raise InvalidInput(f"{path}.{key}", f"not allowed beside {group!r}: a group node has one key")
        if group == "not":
            return Not(self.node(value["not"], f"{path}.not", depth + 1))
        children = value[group]
        if not isinstance(children, list) or not children:
            raise InvalidInput(f"{path}.{group}", "must be a non-empty list of rules")
        parsed = tuple(self.node(child, f"{path}.{group}[{n}]", depth + 1) for n, child in enumerate(children))
        return All(parsed) if group == "all" else Any(parsed)

    def condition(self, node: dict, path: str) -> Condition:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidInput(path, f"the rule holds more than {MAX_CONDITIONS} conditions")
        for key in node:
            if key not in ("field", "op", "value", "days", "campaign"):
                raise InvalidInput(
                    f"{path}.{key}", "unknown key: a condition has field, op, value, and days or campaign"
                )
        field = _choice(node.get("field"), tuple(Field), f"{path}.field")
        op = _choice(node.get("op"), OPS[field], f"{path}.op")
        days = campaign = None
        if field in _WITH_DAYS:
            if "days" not in node:
                raise InvalidInput(f"{path}.days", f"is required for {field}: an integer from 1 to {MAX_DAYS}")
            days = _integer(node["days"], 1, MAX_DAYS, f"{path}.days")
        elif "days" in node:
            raise InvalidInput(f"{path}.days", f"not allowed for {field}: only for {_listed(_WITH_DAYS)}")
        if field is Field.RECEIVED_CAMPAIGN:
            campaign = _campaign(node.get("campaign"), f"{path}.campaign")
        elif "campaign" in node:
            raise InvalidInput(f"{path}.campaign", "not allowed: only for received_campaign")
        value = _value(field, op, node, f"{path}.value")
        return Condition(field, op, value, days, campaign)


def _value(field: Field, op: Op, node: dict, path: str) -> object:
    value = node.get("value")
    if op is Op.NEVER:
        if "value" in node and value is not True:
            raise InvalidInput(path, "must be true, or absent, for never")
        return None
    if "value" not in node:
        raise InvalidInput(path, "is required")
    if op is Op.BETWEEN:
        limit = AMOUNT_LIMITS[field]
        if not (
            isinstance(value, list | tuple)
            and len(value) == 2
            and all(type(v) is int and 0 <= v <= limit for v in value)
            and value[0] <= value[1]
        ):
            raise InvalidInput(path, f"must be [low, high]: two integers from 0 to {limit}, low <= high")
        return (value[0], value[1])
    if op in (Op.GTE, Op.LTE):
        return _integer(value, 0, AMOUNT_LIMITS[field], path)
    if op in (Op.WITHIN_DAYS, Op.OLDER_THAN_DAYS):
        return _integer(value, 0, MAX_DAYS, path)
    if op in (Op.BEFORE, Op.AFTER):
        return _moment(value, path)
    if field is Field.EMAIL_CONSENT:
        return _choice(value, CONSENTS, path)
    if type(value) is not bool:
        raise InvalidInput(path, "must be true or false")
    return value


def _choice(value: object, allowed: tuple, path: str):
    for choice in allowed:
        if isinstance(value, str) and value == choice:
            return choice
    if value is None:
        raise InvalidInput(path, f"is required: one of {_listed(allowed)}")
    raise InvalidInput(path, f"must be one of {_listed(allowed)}")


def _integer(value: object, low: int, high: int, path: str) -> int:
    # bool is an int to Python, never to a client.
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(path, f"must be an integer from {low} to {high}")
    return value


# An RFC 3339 date and time with its offset, years 1000 to 2999 (what the OpenAPI document states).
MOMENT_PATTERN = r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
_MOMENT = re.compile(MOMENT_PATTERN)


def _moment(value: object, path: str) -> datetime:
    message = "must be a date and time with a UTC offset (RFC 3339), e.g. 2026-01-31T09:00:00+00:00"
    try:
        if isinstance(value, str) and not _MOMENT.match(value):
            raise ValueError
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise InvalidInput(path, message) from None


# A campaign id as the API writes them (the OpenAPI document's pattern): 8-4-4-4-12 hex digits.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN)


def _campaign(value: object, path: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        if not isinstance(value, str) or not _UUID.match(value):
            raise ValueError
        return UUID(value)
    except ValueError:
        raise InvalidInput(path, "must be a campaign id (a UUID)") from None


def _listed(choices) -> str:
    return ", ".join(str(choice) for choice in choices)
