"""parse_rule: the allow-list of segment rules, the path of every refusal, and the canonical form."""

from datetime import datetime, timezone
from uuid import UUID

import pytest

from crm.write_model.errors import InvalidInput
from crm.write_model.segment_rules import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    All,
    Any,
    Condition,
    Field,
    Not,
    Op,
    parse_rule,
    shorthand_rule,
)

CAMPAIGN = "5f0c6a3e-2b1d-4c8e-9a7f-0123456789ab"
SPEND = {"field": "total_spend_cents", "op": "gte", "value": 100}


def nested(depth: int) -> dict:
    """A rule `depth` levels deep: `all` groups around one condition."""
    rule: dict = SPEND
    for _ in range(depth - 1):
        rule = {"all": [rule]}
    return rule


def refusal(rule, path: str = "rule") -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        parse_rule(rule, path)
    return error.value


BAD = [
    # (what is wrong, rule, path of the offending node, words the message holds)
    ("not a dict", ["all"], "rule", "must be an object"),
    ("a string", "total_spend_cents >= 1", "rule", "must be an object"),
    ("an empty object", {}, "rule", "must be an object"),
    ("unknown field", {"field": "age", "op": "gte", "value": 1}, "rule.field", "must be one of total_spend_cents"),
    ("field missing", {"op": "gte", "value": 1}, "rule.field", "is required"),
    ("field not a string", {"field": 7, "op": "gte", "value": 1}, "rule.field", "must be one of"),
    ("unknown op", {"field": "visit_count", "op": "gt", "value": 1}, "rule.op", "must be one of gte, lte, between"),
    ("op missing", {"field": "visit_count", "value": 1}, "rule.op", "is required: one of gte, lte, between"),
    (
        "op of another field",
        {"field": "total_spend_cents", "op": "within_days", "value": 1},
        "rule.op",
        "must be one of gte, lte, between",
    ),
    (
        "never for registered_at",
        {"field": "registered_at", "op": "never"},
        "rule.op",
        "must be one of within_days, older_than_days, before, after",
    ),
    (
        "between on a window",
        {"field": "visits_in_last_days", "op": "between", "value": [1, 2], "days": 7},
        "rule.op",
        "must be one of gte, lte",
    ),
    ("eq on consent only", {"field": "email_consent", "op": "gte", "value": 1}, "rule.op", "must be one of eq"),
    ("value missing", {"field": "visit_count", "op": "gte"}, "rule.value", "is required"),
    ("string for an int", {"field": "visit_count", "op": "gte", "value": "3"}, "rule.value", "must be an integer"),
    ("float for an int", {"field": "visit_count", "op": "lte", "value": 3.0}, "rule.value", "must be an integer"),
    ("bool where int", {"field": "visit_count", "op": "gte", "value": True}, "rule.value", "from 0 to 1000000000"),
    ("negative cents", {"field": "total_spend_cents", "op": "gte", "value": -1}, "rule.value", "from 0 to"),
    (
        "cents over 10**12",
        {"field": "average_spend_cents", "op": "lte", "value": 10**12 + 1},
        "rule.value",
        "from 0 to 1000000000000",
    ),
    ("count over 10**9", {"field": "visit_count", "op": "gte", "value": 10**9 + 1}, "rule.value", "from 0 to"),
    (
        "between lo > hi",
        {"field": "total_spend_cents", "op": "between", "value": [5, 4]},
        "rule.value",
        "low <= high",
    ),
    ("between of one", {"field": "visit_count", "op": "between", "value": [5]}, "rule.value", "[low, high]"),
    ("between of bools", {"field": "visit_count", "op": "between", "value": [False, True]}, "rule.value", "[low"),
    ("between not a list", {"field": "visit_count", "op": "between", "value": 5}, "rule.value", "[low, high]"),
    (
        "within_days over 36500",
        {"field": "last_visit_at", "op": "within_days", "value": 36_501},
        "rule.value",
        "from 0 to 36500",
    ),
    ("older_than_days negative", {"field": "registered_at", "op": "older_than_days", "value": -1}, "rule.value", ""),
    (
        "naive datetime",
        {"field": "first_visit_at", "op": "before", "value": "2026-01-31T09:00:00"},
        "rule.value",
        "with a UTC offset",
    ),
    ("a date alone", {"field": "registered_at", "op": "after", "value": "2026-01-31"}, "rule.value", "UTC offset"),
    ("not a datetime", {"field": "registered_at", "op": "after", "value": "yesterday"}, "rule.value", "RFC 3339"),
    ("datetime as a number", {"field": "last_visit_at", "op": "before", "value": 1767225600}, "rule.value", "RFC"),
    (
        "a moment out of range",
        {"field": "last_visit_at", "op": "before", "value": "0001-01-01T00:00:00+01:00"},
        "rule.value",
        "RFC 3339",
    ),
    # The document's pattern: an upper-case T and Z, years 1000 to 2999.
    (
        "a lower-case t",
        {"field": "last_visit_at", "op": "before", "value": "2026-01-31t09:00:00Z"},
        "rule.value",
        "RFC",
    ),
    ("the year 3000", {"field": "last_visit_at", "op": "after", "value": "3000-01-01T00:00:00Z"}, "rule.value", "RFC"),
    ("never with false", {"field": "last_visit_at", "op": "never", "value": False}, "rule.value", "true, or absent"),
    (
        "missing days",
        {"field": "spend_cents_in_last_days", "op": "gte", "value": 1},
        "rule.days",
        "is required for spend_cents_in_last_days: an integer from 1 to 36500",
    ),
    (
        "days of 0",
        {"field": "visits_in_last_days", "op": "gte", "value": 1, "days": 0},
        "rule.days",
        "from 1 to 36500",
    ),
    ("days as a bool", {"field": "messaged_in_last_days", "op": "eq", "value": True, "days": True}, "rule.days", ""),
    ("days where none go", {"field": "visit_count", "op": "gte", "value": 1, "days": 7}, "rule.days", "not allowed"),
    ("unknown consent", {"field": "email_consent", "op": "eq", "value": "yes"}, "rule.value", "subscribed"),
    ("messaged not a bool", {"field": "messaged_in_last_days", "op": "eq", "value": 1, "days": 7}, "rule.value", ""),
    ("missing campaign", {"field": "received_campaign", "op": "eq", "value": True}, "rule.campaign", "UUID"),
    (
        "campaign not an id",
        {"field": "received_campaign", "op": "eq", "value": True, "campaign": "spring"},
        "rule.campaign",
        "a campaign id",
    ),
    (
        "campaign where none goes",
        {"field": "visit_count", "op": "gte", "value": 1, "campaign": CAMPAIGN},
        "rule.campaign",
        "only for received_campaign",
    ),
    ("unknown key in a condition", {**SPEND, "negate": True}, "rule.negate", "unknown key"),
    ("unknown key in a group", {"all": [SPEND], "name": "x"}, "rule.name", "a group node has one key"),
    ("two group keys", {"all": [SPEND], "any": [SPEND]}, "rule.any", "not allowed beside 'all'"),
    ("empty all", {"all": []}, "rule.all", "non-empty list"),
    ("empty any", {"any": []}, "rule.any", "non-empty list"),
    ("all not a list", {"all": SPEND}, "rule.all", "non-empty list"),
    ("not of a list", {"not": [SPEND]}, "rule.not", "must be an object"),
    ("null child", {"any": [SPEND, None]}, "rule.any[1]", "must be an object"),
    (
        "deep in a tree",
        {"any": [SPEND, {"all": [SPEND, {"not": {"field": "visit_count", "op": "gte", "value": "x"}}]}]},
        "rule.any[1].all[1].not.value",
        "must be an integer",
    ),
    ("an op deep in a tree", {"any": [{"all": [SPEND, {**SPEND, "op": "eq"}]}]}, "rule.any[0].all[1].op", "gte, lte"),
    (
        "days deep in a tree",
        {"any": [{"all": [SPEND, {"field": "visits_in_last_days", "op": "gte", "value": 1, "days": 0}]}]},
        "rule.any[0].all[1].days",
        "from 1",
    ),
    ("depth 6", nested(6), "rule" + ".all[0]" * 5, f"deeper than {MAX_DEPTH}"),
    ("31 conditions", {"all": [SPEND] * 31}, "rule.all[30]", f"more than {MAX_CONDITIONS} conditions"),
    (
        "31 conditions across groups",
        {"any": [{"all": [SPEND] * 20}, {"not": {"all": [SPEND] * 11}}]},
        "rule.any[1].not.all[10]",
        "more than 30",
    ),
]


@pytest.mark.parametrize("rule, path, words", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_rule_is_refused_at_the_path_of_its_offending_node(rule, path, words):
    error = refusal(rule)
    assert error.field == path
    assert words in error.message


def test_the_path_starts_with_the_prefix_given():
    assert refusal({"all": [SPEND, {**SPEND, "op": "nope"}]}, "segment_rule").field == "segment_rule.all[1].op"


def test_depth_5_and_30_conditions_are_allowed():
    assert parse_rule(nested(MAX_DEPTH)) == All(
        (All((All((All((Condition(Field.TOTAL_SPEND_CENTS, Op.GTE, 100),)),)),)),)
    )
    assert len(parse_rule({"any": [SPEND] * MAX_CONDITIONS}).conditions()) == MAX_CONDITIONS


def test_values_at_their_limits_are_allowed():
    for rule in (
        {"field": "total_spend_cents", "op": "between", "value": [0, 10**12]},
        {"field": "visit_count", "op": "lte", "value": 10**9},
        {"field": "average_spend_cents", "op": "between", "value": [7, 7]},
        {"field": "last_visit_at", "op": "within_days", "value": 0},
        {"field": "registered_at", "op": "older_than_days", "value": 36_500},
        {"field": "spend_cents_in_last_days", "op": "lte", "value": 0, "days": 36_500},
        {"field": "visits_in_last_days", "op": "gte", "value": 0, "days": 1},
    ):
        assert parse_rule(rule).as_json() == rule


def test_a_moment_is_kept_in_utc_whatever_offset_it_came_with():
    rule = parse_rule({"field": "last_visit_at", "op": "after", "value": "2026-03-29T02:30:00+02:00"})
    assert rule == Condition(Field.LAST_VISIT_AT, Op.AFTER, datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc))
    assert rule.as_json()["value"] == "2026-03-29T00:30:00+00:00"
    assert parse_rule({"field": "last_visit_at", "op": "after", "value": "2026-03-29T00:30:00Z"}) == rule


def test_never_with_true_is_never_without_a_value():
    assert parse_rule({"field": "first_visit_at", "op": "never", "value": True}) == parse_rule(
        {"field": "first_visit_at", "op": "never"}
    )
    assert parse_rule({"field": "first_visit_at", "op": "never", "value": True}).as_json() == {
        "field": "first_visit_at",
        "op": "never",
    }


EVERY_KIND = {
    "all": [
        {"field": "total_spend_cents", "op": "between", "value": [100, 20_000]},
        {"field": "visit_count", "op": "gte", "value": 2},
        {"field": "average_spend_cents", "op": "lte", "value": 5_000},
        {
            "any": [
                {"field": "last_visit_at", "op": "older_than_days", "value": 45},
                {"field": "last_visit_at", "op": "never"},
            ]
        },
        {"field": "first_visit_at", "op": "before", "value": "2026-01-01T00:00:00+00:00"},
        {"field": "registered_at", "op": "within_days", "value": 30},
        {"field": "spend_cents_in_last_days", "op": "gte", "value": 20_000, "days": 365},
        {"field": "visits_in_last_days", "op": "lte", "value": 0, "days": 45},
        {"field": "email_consent", "op": "eq", "value": "subscribed"},
        {"not": {"field": "messaged_in_last_days", "op": "eq", "value": True, "days": 7}},
        {"field": "received_campaign", "op": "eq", "value": False, "campaign": CAMPAIGN},
    ]
}


def test_the_canonical_form_parses_back_to_the_same_rule():
    rule = parse_rule(EVERY_KIND)
    assert rule.as_json() == EVERY_KIND
    assert parse_rule(rule.as_json()) == rule
    assert hash(parse_rule(rule.as_json())) == hash(rule)


def test_parsing_normalises_what_has_several_spellings():
    rule = parse_rule(
        {
            "any": [
                {"value": [1, 2], "op": "between", "field": "visit_count"},
                {"field": "received_campaign", "op": "eq", "value": True, "campaign": CAMPAIGN.upper()},
                {"field": "registered_at", "op": "before", "value": "2026-01-01T01:00:00+01:00"},
            ]
        }
    )
    assert rule == Any(
        (
            Condition(Field.VISIT_COUNT, Op.BETWEEN, (1, 2)),
            Condition(Field.RECEIVED_CAMPAIGN, Op.EQ, True, campaign=UUID(CAMPAIGN)),
            Condition(Field.REGISTERED_AT, Op.BEFORE, datetime(2026, 1, 1, tzinfo=timezone.utc)),
        )
    )
    assert rule.as_json()["any"][1]["campaign"] == CAMPAIGN
    assert rule.as_json()["any"][2]["value"] == "2026-01-01T00:00:00+00:00"


def test_not_wraps_one_rule():
    assert parse_rule({"not": SPEND}) == Not(Condition(Field.TOTAL_SPEND_CENTS, Op.GTE, 100))


def test_the_shorthands_are_the_seed_segments_as_rules():
    assert shorthand_rule("high_spenders", 50_000) == {"field": "total_spend_cents", "op": "gte", "value": 50_000}
    inactive = shorthand_rule("inactive_days", 30)
    assert parse_rule(inactive) == Any(
        (
            Condition(Field.LAST_VISIT_AT, Op.OLDER_THAN_DAYS, 30),
            All((Condition(Field.LAST_VISIT_AT, Op.NEVER), Condition(Field.REGISTERED_AT, Op.OLDER_THAN_DAYS, 30))),
        )
    )
    assert parse_rule(inactive).as_json() == inactive
    with pytest.raises(InvalidInput) as error:
        shorthand_rule("vip", 1)
    assert error.value.field == "segment_type"


def test_a_condition_built_with_plain_strings_is_the_parsed_one():
    built = Condition("visit_count", "gte", 2)
    assert built == parse_rule({"field": "visit_count", "op": "gte", "value": 2})
    assert built.field is Field.VISIT_COUNT and built.op is Op.GTE
    with pytest.raises(ValueError):
        Condition("age", "gte", 2)
