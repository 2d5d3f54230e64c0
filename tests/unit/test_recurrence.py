"""The schedule maths of recurring campaigns: the next occurrence after a moment, in the
restaurant's time zone, across the changes of summer time (Europe/Paris, America/New_York), and
the recurrence as a client writes it."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from crm.write_model.errors import InvalidInput
from crm.write_model.recurrence import Recurrence, cooldown_days, local_label

PARIS, NEW_YORK = "Europe/Paris", "America/New_York"
UTC = timezone.utc


def daily(at: str) -> Recurrence:
    return Recurrence.parse({"every": "day", "at": at})


def weekly(at: str, *days: str) -> Recurrence:
    return Recurrence.parse({"every": "week", "at": at, "weekdays": list(days)})


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def run(recurrence: Recurrence, after: datetime, zone: str, count: int) -> list[datetime]:
    """The next `count` occurrences after `after`, each found from the one before."""
    found = []
    for _ in range(count):
        after = recurrence.next_after(after, zone)
        found.append(after)
    return found


# -- every day --------------------------------------------------------------------------


def test_daily_later_today_then_each_next_day():
    after = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert run(daily("09:00"), after, PARIS, 3) == [
        datetime(2027, 1, 4, 8, 0, tzinfo=UTC),
        datetime(2027, 1, 5, 8, 0, tzinfo=UTC),
        datetime(2027, 1, 6, 8, 0, tzinfo=UTC),
    ]


def test_daily_already_past_today_is_tomorrow():
    after = datetime(2027, 1, 4, 8, 0, 1, tzinfo=UTC)  # 09:00:01 in Paris
    assert daily("09:00").next_after(after, PARIS) == datetime(2027, 1, 5, 8, 0, tzinfo=UTC)


def test_at_exactly_the_occurrence_the_next_one():
    occurrence = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
    assert daily("09:00").next_after(occurrence, PARIS) == occurrence + timedelta(days=1)
    assert daily("09:00").next_after(occurrence - timedelta(microseconds=1), PARIS) == occurrence


def test_the_result_is_utc():
    result = daily("09:00").next_after(datetime(2027, 1, 4, 9, tzinfo=ZoneInfo(PARIS)), PARIS)
    assert result.utcoffset() == timedelta(0)
    assert local(result, PARIS) == datetime(2027, 1, 5, 9, 0)


def test_the_local_date_counts_not_the_utc_date():
    # 23:30 in New York on 4 January is already 5 January in UTC: 22:00 New York is still to come on the 5th
    after = datetime(2027, 1, 5, 4, 30, tzinfo=UTC)
    assert local(daily("22:00").next_after(after, NEW_YORK), NEW_YORK) == datetime(2027, 1, 5, 22, 0)
    assert local(daily("23:45").next_after(after, NEW_YORK), NEW_YORK) == datetime(2027, 1, 4, 23, 45)


@pytest.mark.parametrize(
    "zone, before_change, utc_before, utc_after",
    [
        (PARIS, datetime(2027, 3, 26, 12, tzinfo=UTC), 8, 7),  # summer time from 28 March
        (PARIS, datetime(2027, 10, 29, 12, tzinfo=UTC), 7, 8),  # winter time from 31 October
        (NEW_YORK, datetime(2027, 3, 12, 18, tzinfo=UTC), 14, 13),  # from 14 March
        (NEW_YORK, datetime(2027, 11, 5, 18, tzinfo=UTC), 13, 14),  # back on 7 November
    ],
)
def test_daily_keeps_the_local_time_across_a_change_of_clocks(zone, before_change, utc_before, utc_after):
    occurrences = run(daily("09:00"), before_change, zone, 4)
    assert [local(o, zone).time().isoformat() for o in occurrences] == ["09:00:00"] * 4
    assert [local(o, zone).date() - local(occurrences[0], zone).date() for o in occurrences] == [
        timedelta(days=n) for n in range(4)
    ]
    assert occurrences[0].hour == utc_before and occurrences[-1].hour == utc_after
    assert {o.hour for o in occurrences} == {utc_before, utc_after}


# -- every week -------------------------------------------------------------------------


def test_weekly_on_several_days_in_week_order():
    after = datetime(2027, 1, 5, 12, tzinfo=UTC)  # a Tuesday, after 09:00 in Paris
    found = run(weekly("09:00", "fri", "mon", "wed"), after, PARIS, 5)
    assert [local(o, PARIS).strftime("%a %d %H:%M") for o in found] == [
        "Wed 06 09:00",
        "Fri 08 09:00",
        "Mon 11 09:00",
        "Wed 13 09:00",
        "Fri 15 09:00",
    ]


def test_weekly_on_one_day_is_seven_days_apart_outside_a_change():
    after = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)  # Monday 09:00 Paris: exactly an occurrence
    assert weekly("09:00", "mon").next_after(after, PARIS) == datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone", [PARIS, NEW_YORK])
@pytest.mark.parametrize("start", [datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 10, 25, tzinfo=UTC)])
def test_weekly_across_a_change_of_clocks_same_local_time_and_weekday(zone, start):
    found = run(weekly("09:00", "mon"), start, zone, 6)
    assert [local(o, zone).strftime("%a %H:%M") for o in found] == ["Mon 09:00"] * 6
    gaps = {b - a for a, b in zip(found, found[1:], strict=False)}
    # Check one week is an hour shorter or longer in UTC: the one that crosses the change
    assert timedelta(days=7) in gaps and len(gaps) == 2
    assert gaps - {timedelta(days=7)} <= {timedelta(days=7, hours=-1), timedelta(days=7, hours=1)}


# -- the gap and the fold ---------------------------------------------------------------


@pytest.mark.parametrize(
    "zone, day, at, expected_utc, expected_local",
    [
        # Paris skips 02:00-03:00 on 28 March 2027: the clocks jump at 01:00 UTC
        (PARIS, datetime(2027, 3, 27, 12, tzinfo=UTC), "02:30", datetime(2027, 3, 28, 1, 0), "03:00"),
        (PARIS, datetime(2027, 3, 27, 12, tzinfo=UTC), "02:00", datetime(2027, 3, 28, 1, 0), "03:00"),
        (PARIS, datetime(2027, 3, 27, 12, tzinfo=UTC), "02:59", datetime(2027, 3, 28, 1, 0), "03:00"),
        # New York skips 02:00-03:00 on 14 March 2027: at 07:00 UTC
        (NEW_YORK, datetime(2027, 3, 13, 12, tzinfo=UTC), "02:15", datetime(2027, 3, 14, 7, 0), "03:00"),
    ],
)
def test_a_skipped_local_time_runs_at_the_first_instant_after_the_gap(zone, day, at, expected_utc, expected_local):
    result = daily(at).next_after(day, zone)
    assert result == expected_utc.replace(tzinfo=UTC)
    assert local(result, zone).strftime("%H:%M") == expected_local
    # Check the next day is at the written time again
    assert local(daily(at).next_after(result, zone), zone).strftime("%H:%M") == at


def test_the_times_either_side_of_the_gap_are_untouched():
    day = datetime(2027, 3, 27, 12, tzinfo=UTC)
    assert daily("01:59").next_after(day, PARIS) == datetime(2027, 3, 28, 0, 59, tzinfo=UTC)
    assert daily("03:00").next_after(day, PARIS) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "zone, day, at, first",
    [
        # Paris passes 02:00-03:00 twice on 31 October 2027 (first at +02:00)
        (PARIS, datetime(2027, 10, 30, 12, tzinfo=UTC), "02:30", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        # New York passes 01:00-02:00 twice on 7 November 2027 (first at -04:00)
        (NEW_YORK, datetime(2027, 11, 6, 12, tzinfo=UTC), "01:30", datetime(2027, 11, 7, 5, 30, tzinfo=UTC)),
    ],
)
def test_a_local_time_passed_twice_runs_once_at_the_first(zone, day, at, first):
    assert daily(at).next_after(day, zone) == first
    # Check the second pass of the same local time (an hour later) is not an occurrence
    following = daily(at).next_after(first, zone)
    assert following - first == timedelta(days=1, hours=1)
    assert local(following, zone).strftime("%H:%M") == at
    assert daily(at).next_after(first + timedelta(minutes=30), zone) == following


def test_weekly_on_the_day_of_the_gap():
    # A Sunday recurrence at 02:30 in Paris: 28 March 2027 is a Sunday with no 02:30
    found = run(weekly("02:30", "sun"), datetime(2027, 3, 22, tzinfo=UTC), PARIS, 2)
    assert [local(o, PARIS) for o in found] == [datetime(2027, 3, 28, 3, 0), datetime(2027, 4, 4, 2, 30)]


# -- as written -------------------------------------------------------------------------


def test_parse_gives_the_canonical_form():
    recurrence = weekly("07:05", "sun", "mon")
    assert recurrence.as_json() == {"every": "week", "at": "07:05", "weekdays": ["mon", "sun"]}
    assert Recurrence.parse(recurrence.as_json()) == recurrence
    assert daily("23:59").as_json() == {"every": "day", "at": "23:59", "weekdays": []}
    assert Recurrence.parse({"every": "day", "at": "10:00", "weekdays": []}) == daily("10:00")


@pytest.mark.parametrize(
    "value, field, message",
    [
        ("daily", "recurrence", "must be an object"),
        ({"every": "month", "at": "09:00"}, "recurrence.every", "'day' or 'week'"),
        ({"at": "09:00"}, "recurrence.every", "'day' or 'week'"),
        ({"every": "day", "at": "9:00"}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": "24:00"}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": "09:60"}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": "09:00:00"}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": 900}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": "09:00\n"}, "recurrence.at", "HH:MM"),
        ({"every": "day", "at": "09:00", "weekdays": None}, "recurrence.weekdays", "list of mon"),
        ({"every": "day"}, "recurrence.at", "HH:MM"),
        ({"every": "week", "at": "09:00"}, "recurrence.weekdays", "at least one day"),
        ({"every": "week", "at": "09:00", "weekdays": []}, "recurrence.weekdays", "at least one day"),
        ({"every": "week", "at": "09:00", "weekdays": ["monday"]}, "recurrence.weekdays", "list of mon"),
        ({"every": "week", "at": "09:00", "weekdays": "mon"}, "recurrence.weekdays", "list of mon"),
        ({"every": "week", "at": "09:00", "weekdays": ["mon", "mon"]}, "recurrence.weekdays", "twice"),
        ({"every": "day", "at": "09:00", "weekdays": ["mon"]}, "recurrence.weekdays", "only with every week"),
        ({"every": "day", "at": "09:00", "zone": "UTC"}, "recurrence.zone", "unknown field"),
    ],
)
def test_parse_refuses_naming_the_key(value, field, message):
    with pytest.raises(InvalidInput, match=message) as error:
        Recurrence.parse(value)
    assert error.value.field == field


def test_cooldown_days():
    assert cooldown_days(None) == 30
    assert (cooldown_days(0), cooldown_days(3650)) == (0, 3650)
    for bad in (-1, 3651, 1.5, "30", True):
        with pytest.raises(InvalidInput, match="from 0 to 3650"):
            cooldown_days(bad)


def test_describe_and_label_in_words():
    assert weekly("09:00", "mon").describe(PARIS) == "Every Monday at 09:00 Europe/Paris"
    assert weekly("18:30", "thu", "mon", "sat").describe("UTC") == "Every Monday, Thursday and Saturday at 18:30 UTC"
    assert daily("07:00").describe(NEW_YORK) == "Every day at 07:00 America/New_York"
    assert local_label(datetime(2027, 1, 4, 8, 0, tzinfo=UTC), PARIS) == "Mon 4 Jan 09:00"
