"""validated_details: the checks a campaign's settings pass before create and change."""

from uuid import uuid4

import pytest

from crm.write_model.campaigning import validated_details, with_changes
from crm.write_model.errors import InvalidInput
from crm.write_model.vocabulary import CampaignDetails
from tests.unit.campaign_support import DETAILS

SEGMENT_KEYS = CampaignDetails.SEGMENT_FIELDS

# -- validated_details (the checks before create and change_details) --------------------


def test_validated_details_returns_the_settings():
    details = validated_details({**DETAILS, "extra": "ignored"})
    assert details == DETAILS


def test_a_rule_is_kept_in_its_canonical_form_and_drops_the_shorthand():
    rule = {"all": [{"field": "visit_count", "op": "gte", "value": 2}]}
    details = validated_details({**DETAILS, "segment_type": None, "segment_value": None, "segment_rule": rule})
    assert (details["segment_type"], details["segment_value"], details["segment_rule"]) == ("rule", 0, rule)
    assert details["segment_id"] is None


def test_a_saved_segment_is_kept_by_id():
    segment_id = uuid4()
    details = validated_details({**DETAILS, "segment_id": segment_id})
    assert (details["segment_type"], details["segment_value"], details["segment_id"]) == ("segment", 0, segment_id)
    assert details["segment_rule"] is None


def test_a_rule_and_a_saved_segment_together_are_refused():
    rule = {"field": "visit_count", "op": "gte", "value": 2}
    with pytest.raises(InvalidInput) as refused:
        validated_details({**DETAILS, "segment_rule": rule, "segment_id": uuid4()})
    assert refused.value.field == "segment_rule"


def test_a_bad_rule_is_refused_by_its_path_under_segment_rule():
    rule = {"any": [{"field": "visit_count", "op": "never"}]}
    with pytest.raises(InvalidInput) as refused:
        validated_details({**DETAILS, "segment_rule": rule})
    assert refused.value.field == "segment_rule.any[0].op"


@pytest.mark.parametrize(
    "current, changes, expected",
    [
        # between shorthands, what is not given stays
        ({**DETAILS}, {"segment_value": 45}, {**DETAILS, "segment_value": 45}),
        # a rule replaces the shorthand
        (
            {**DETAILS},
            {"segment_rule": {"x": 1}},
            {**{k: v for k, v in DETAILS.items() if k not in SEGMENT_KEYS}, "segment_rule": {"x": 1}},
        ),
        # a shorthand value alone on a rule campaign does not bring the rule back
        (
            {**DETAILS, "segment_type": "rule", "segment_value": 0, "segment_rule": {"x": 1}},
            {"segment_value": 45},
            {**{k: v for k, v in DETAILS.items() if k not in SEGMENT_KEYS}, "segment_value": 45},
        ),
    ],
)
def test_with_changes_replaces_the_whole_segment_unless_between_shorthands(current, changes, expected):
    assert with_changes(current, changes) == expected


def test_validated_details_defaults_the_subject_to_the_restaurant_name():
    details = validated_details({key: value for key, value in DETAILS.items() if key != "subject"})
    assert details["subject"] == "{restaurant_name}"


def test_validated_details_strips_the_name():
    assert validated_details({**DETAILS, "name": "  Winback  "})["name"] == "Winback"


@pytest.mark.parametrize("name", [None, "", "   ", 42])
def test_validated_details_requires_a_name(name):
    details = {key: value for key, value in DETAILS.items() if key != "name"}
    if name is not None:
        details["name"] = name
    with pytest.raises(InvalidInput) as error:
        validated_details(details)
    assert error.value.field == "name"


@pytest.mark.parametrize("segment_type", [None, "", "vip", "INACTIVE_DAYS", 1])
def test_validated_details_requires_a_known_segment_type(segment_type):
    details = {**DETAILS, "segment_type": segment_type}
    if segment_type is None:
        del details["segment_type"]
    with pytest.raises(InvalidInput) as error:
        validated_details(details)
    assert error.value.field == "segment_type"


@pytest.mark.parametrize(
    "segment_type, value",
    [
        ("inactive_days", 0),
        ("inactive_days", 1),
        ("inactive_days", 36_500),
        ("high_spenders", 0),
        ("high_spenders", 36_501),
        ("high_spenders", 10**12),
    ],
)
def test_validated_details_accepts_segment_values_in_range(segment_type, value):
    details = validated_details({**DETAILS, "segment_type": segment_type, "segment_value": value})
    assert (details["segment_type"], details["segment_value"]) == (segment_type, value)


@pytest.mark.parametrize(
    "segment_type, value",
    [
        ("inactive_days", -1),
        ("inactive_days", 36_501),
        ("inactive_days", True),
        ("inactive_days", False),
        ("inactive_days", 30.0),
        ("inactive_days", "30"),
        ("inactive_days", None),
        ("high_spenders", -1),
        ("high_spenders", 10**12 + 1),
        ("high_spenders", True),
        ("high_spenders", 1000.5),
        ("high_spenders", "1000"),
    ],
)
def test_validated_details_rejects_segment_values_out_of_range_or_not_integers(segment_type, value):
    with pytest.raises(InvalidInput) as error:
        validated_details({**DETAILS, "segment_type": segment_type, "segment_value": value})
    assert error.value.field == "segment_value"


def test_validated_details_rejects_a_missing_segment_value():
    details = {key: value for key, value in DETAILS.items() if key != "segment_value"}
    with pytest.raises(InvalidInput) as error:
        validated_details(details)
    assert error.value.field == "segment_value"


@pytest.mark.parametrize("field", ["subject", "message_template"])
@pytest.mark.parametrize("template", ["", "Hi {email}", "Hi {first_name", None])
def test_validated_details_checks_both_templates(field, template):
    with pytest.raises(InvalidInput) as error:
        validated_details({**DETAILS, field: template})
    assert error.value.field == field


def test_validated_details_requires_a_message_template():
    details = {key: value for key, value in DETAILS.items() if key != "message_template"}
    with pytest.raises(InvalidInput) as error:
        validated_details(details)
    assert error.value.field == "message_template"
