"""Quiet hours: the rule of their settings, and whether an instant is inside them and until when,
across the nights the clocks change (Europe/Paris, America/New_York)."""

from datetime import datetime, timezone

import pytest

from crm.write_model import validation
from crm.write_model.errors import InvalidInput
from crm.write_model.quiet_hours import QuietHours


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("22:00", None, "quiet_hours_end"),
        (None, "08:00", "quiet_hours_start"),
        ("22:00", "22:00", "quiet_hours_end"),
        ("24:00", "08:00", "quiet_hours_start"),
        ("22:60", "08:00", "quiet_hours_start"),
        ("9:00", "18:00", "quiet_hours_start"),
        ("22:00", "8:00", "quiet_hours_end"),
        ("22:00:00", "08:00", "quiet_hours_start"),
        ("22:00\n", "08:00", "quiet_hours_start"),
        ("", "08:00", "quiet_hours_start"),
        (2200, "08:00", "quiet_hours_start"),
        ("22:00", "\uff10\uff18:00", "quiet_hours_end"),  # full-width digits are not HH:MM
    ],
)
def test_quiet_hours_are_two_different_local_times_set_together(start, end, field):
    with pytest.raises(InvalidInput) as raised:
        validation.quiet_hours(start, end)
    assert raised.value.field == field


def test_valid_quiet_hours_pass_unchanged():
    assert validation.quiet_hours(None, None) == (None, None)
    assert validation.quiet_hours("22:00", "08:00") == ("22:00", "08:00")  # across midnight
    assert validation.quiet_hours("00:00", "23:59") == ("00:00", "23:59")


def test_no_window_without_both_times():
    assert QuietHours.of(None, None, "Europe/Paris") is None


# Europe/Paris: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC); 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC).
@pytest.mark.parametrize(
    ("zone", "start", "end", "now", "ends_at"),
    [
        # A window across midnight, an ordinary night in Paris (UTC+1): 22:00 -> 08:00 local.
        ("Europe/Paris", "22:00", "08:00", "2026-01-10T20:59:59", None),
        ("Europe/Paris", "22:00", "08:00", "2026-01-10T21:00:00", "2026-01-11T07:00:00"),
        ("Europe/Paris", "22:00", "08:00", "2026-01-10T23:30:00", "2026-01-11T07:00:00"),  # after midnight local
        ("Europe/Paris", "22:00", "08:00", "2026-01-11T06:59:59", "2026-01-11T07:00:00"),
        ("Europe/Paris", "22:00", "08:00", "2026-01-11T07:00:00", None),
        # The night the clocks go forward: begins at 22:00 CET, ends at 08:00 CEST, an hour shorter.
        ("Europe/Paris", "22:00", "08:00", "2026-03-28T21:00:00", "2026-03-29T06:00:00"),
        ("Europe/Paris", "22:00", "08:00", "2026-03-29T06:00:00", None),
        # The night they go back: begins at 22:00 CEST, ends at 08:00 CET, an hour longer.
        ("Europe/Paris", "22:00", "08:00", "2026-10-24T20:00:00", "2026-10-25T07:00:00"),
        ("Europe/Paris", "22:00", "08:00", "2026-10-25T06:30:00", "2026-10-25T07:00:00"),
        ("Europe/Paris", "22:00", "08:00", "2026-10-24T19:59:59", None),
        # An end the clocks skip (02:30 in the hour that does not exist): the window ends at the jump.
        ("Europe/Paris", "01:00", "02:30", "2026-03-29T00:59:59", "2026-03-29T01:00:00"),
        ("Europe/Paris", "01:00", "02:30", "2026-03-29T01:00:00", None),  # 03:00 CEST
        # An end the clocks repeat: reached at its first 02:30; the repeated half hour is not quiet.
        ("Europe/Paris", "22:00", "02:30", "2026-10-25T00:29:59", "2026-10-25T00:30:00"),
        ("Europe/Paris", "22:00", "02:30", "2026-10-25T01:10:00", None),  # 02:10 CET, the second time
        # A daytime window in New York across both changes.
        ("America/New_York", "12:00", "14:00", "2026-03-07T17:00:00", "2026-03-07T19:00:00"),  # EST
        ("America/New_York", "12:00", "14:00", "2026-03-08T16:00:00", "2026-03-08T18:00:00"),  # EDT
        ("America/New_York", "12:00", "14:00", "2026-03-08T17:00:00", "2026-03-08T18:00:00"),
        ("America/New_York", "12:00", "14:00", "2026-03-08T18:30:00", None),  # 14:30 EDT (13:30 EST)
        ("America/New_York", "12:00", "14:00", "2026-11-01T17:00:00", "2026-11-01T19:00:00"),  # EST again
        # New York's night windows across both changes: 21:00 -> 07:00.
        ("America/New_York", "21:00", "07:00", "2026-03-08T01:59:59", None),  # 20:59:59 EST
        ("America/New_York", "21:00", "07:00", "2026-03-08T02:00:00", "2026-03-08T11:00:00"),  # to 07:00 EDT
        ("America/New_York", "21:00", "07:00", "2026-11-01T01:00:00", "2026-11-01T12:00:00"),  # to 07:00 EST
        ("America/New_York", "21:00", "07:00", "2026-11-01T11:59:59", "2026-11-01T12:00:00"),
        # A start the clocks skip (02:30 on 2026-03-08): the window begins at the jump.
        ("America/New_York", "02:30", "05:00", "2026-03-08T06:59:59", None),  # 01:59:59 EST
        ("America/New_York", "02:30", "05:00", "2026-03-08T07:00:00", "2026-03-08T09:00:00"),  # 03:00 EDT
    ],
)
def test_an_instant_is_inside_the_window_of_its_local_day_and_learns_when_it_ends(zone, start, end, now, ends_at):
    window = QuietHours.of(start, end, zone)

    assert window.ends_at(utc(now)) == (None if ends_at is None else utc(ends_at))


@pytest.mark.parametrize(
    ("zone", "start", "end", "now", "next_start"),
    [
        ("Europe/Paris", "22:00", "08:00", "2026-03-28T12:00:00", "2026-03-28T21:00:00"),  # 22:00 CET
        ("Europe/Paris", "22:00", "08:00", "2026-03-29T12:00:00", "2026-03-29T20:00:00"),  # 22:00 CEST
        ("Europe/Paris", "22:00", "08:00", "2026-03-29T03:00:00", "2026-03-29T03:00:00"),  # inside: now
        ("Europe/Paris", "22:00", "08:00", "2026-10-25T12:00:00", "2026-10-25T21:00:00"),  # 22:00 CET
        # A window wholly in the hour the clocks skip holds no time that night: the next one counts.
        ("Europe/Paris", "02:00", "02:30", "2026-03-28T12:00:00", "2026-03-30T00:00:00"),
        ("America/New_York", "02:30", "05:00", "2026-03-07T12:00:00", "2026-03-08T07:00:00"),
        ("America/New_York", "09:00", "10:00", "2026-11-01T12:00:00", "2026-11-01T14:00:00"),  # 07:00 EST: 09:00 EST
    ],
)
def test_the_next_window_begins_at_its_local_start(zone, start, end, now, next_start):
    assert QuietHours.of(start, end, zone).next_start(utc(now)) == utc(next_start)
