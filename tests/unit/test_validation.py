import sys
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest

from crm.write_model import validation
from crm.write_model.errors import InvalidInput

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value", [-1, 100_000_001, 1.5, True, "100", None])
def test_spend_must_be_integer_cents_in_range(value):
    with pytest.raises(InvalidInput) as error:
        validation.spend_cents(value)
    assert error.value.field == "spend_cents"


@pytest.mark.parametrize("value", [0, 1, 100_000_000])
def test_spend_bounds_are_inclusive(value):
    assert validation.spend_cents(value) == value


@pytest.mark.parametrize("value", ["Mars/Base", "", "utc ", None, "EST5EDT/x"])
def test_timezone_must_be_an_iana_name(value):
    with pytest.raises(InvalidInput):
        validation.timezone_name(value)


@pytest.mark.parametrize("value", ["UTC", "Europe/Paris", "America/New_York"])
def test_iana_timezones_are_accepted(value):
    assert validation.timezone_name(value) == value


def test_visit_time_must_be_aware_and_not_in_the_future():
    with pytest.raises(InvalidInput):
        validation.visit_time(datetime(2026, 11, 1, 12, 0), NOW)
    with pytest.raises(InvalidInput):
        validation.visit_time(NOW + timedelta(minutes=6), NOW)
    assert validation.visit_time(NOW + timedelta(minutes=4), NOW) == NOW + timedelta(minutes=4)
    paris = validation.visit_time(datetime.fromisoformat("2026-11-01T13:00:00+01:00"), NOW)
    assert paris == NOW and paris.tzinfo == timezone.utc


@pytest.mark.parametrize("value", ["plain", "a@b", "a b@c.de", "", "x" * 250 + "@a.co"])
def test_email_must_look_like_one(value):
    with pytest.raises(InvalidInput):
        validation.email(value)


@pytest.mark.parametrize("value", ["a\x00b", "tab\there", "\ud800", "line\nbreak"])
def test_names_must_not_contain_control_characters(value):
    with pytest.raises(InvalidInput):
        validation.text(value, "name")


def test_exactly_unicodes_control_characters_and_surrogates_are_refused():
    """Every code point is refused in a name if and only if Unicode calls it a control
    character (Cc) or a surrogate (Cs): U+0085 and U+009F are, U+00A0 and U+200B are not."""
    refused = set()
    for code in range(sys.maxunicode + 1):
        try:
            validation.text(f"a{chr(code)}b", "name")
        except InvalidInput:
            refused.add(code)
    assert refused == {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cc", "Cs")}


@pytest.mark.parametrize("value", ["localtime", "Factory"])
def test_host_specific_zone_files_are_not_time_zones(value):
    with pytest.raises(InvalidInput):
        validation.timezone_name(value)


def test_visits_before_1970_are_refused():
    with pytest.raises(InvalidInput):
        validation.visit_time(datetime(1969, 12, 31, tzinfo=timezone.utc), NOW)


@pytest.mark.parametrize(
    ("messages", "days", "field"),
    [
        (-1, 7, "frequency_cap_messages"),
        (1, -1, "frequency_cap_days"),
        (1001, 7, "frequency_cap_messages"),
        (1, 3651, "frequency_cap_days"),
        (1.5, 7, "frequency_cap_messages"),
        (True, 7, "frequency_cap_messages"),
        ("1", 7, "frequency_cap_messages"),
        (1, 0, "frequency_cap_days"),
        (0, 7, "frequency_cap_messages"),
    ],
)
def test_a_frequency_cap_is_two_integers_in_range_both_zero_or_both_set(messages, days, field):
    with pytest.raises(InvalidInput) as raised:
        validation.frequency_cap(messages, days)
    assert raised.value.field == field


def test_valid_frequency_caps_pass_unchanged():
    assert validation.frequency_cap(0, 0) == (0, 0)
    assert validation.frequency_cap(3, 30) == (3, 30)
