"""Restaurant aggregate: given events, when a command, then the new events."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from crm.write_model.errors import InvalidInput, RestaurantNotFound
from crm.write_model.restaurants import Restaurant

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def restaurant() -> Restaurant:
    restaurant = Restaurant.open(uuid4(), "Pizza Palace", "America/New_York", "admin", NOW)
    restaurant.collect_events()
    return restaurant


def test_open_records_name_and_timezone():
    restaurant = Restaurant.open(uuid4(), "Pizza Palace", "UTC", "admin", NOW)
    [event] = restaurant.collect_events()
    assert isinstance(event, Restaurant.Opened)
    assert (event.name, event.timezone, event.actor) == ("Pizza Palace", "UTC", "admin")


def test_change_details_records_only_real_changes(restaurant):
    restaurant.change_details("Pizza Palace", "America/New_York", "admin", NOW)
    assert restaurant.collect_events() == []
    restaurant.change_details("Pizza Palace", "Europe/Rome", "admin", NOW)
    [event] = restaurant.collect_events()
    assert isinstance(event, Restaurant.DetailsChanged) and restaurant.timezone == "Europe/Rome"


def test_delete_records_the_deletion(restaurant):
    # (That no customer of it is live is a condition of the save, checked by the event store.)
    restaurant.delete("admin", NOW)
    [event] = restaurant.collect_events()
    assert isinstance(event, Restaurant.Deleted)


def test_a_deleted_restaurant_takes_no_more_commands(restaurant):
    restaurant.delete("admin", NOW)
    with pytest.raises(RestaurantNotFound):
        restaurant.delete("admin", NOW)
    with pytest.raises(RestaurantNotFound):
        restaurant.change_details("New", "UTC", "admin", NOW)


def test_quiet_hours_are_recorded_changed_and_cleared_only_when_they_change(restaurant):
    assert (restaurant.quiet_hours_start, restaurant.quiet_hours_end) == (None, None)
    restaurant.change_quiet_hours(None, None, "admin", NOW)
    assert restaurant.collect_events() == []

    restaurant.change_quiet_hours("22:00", "08:00", "admin", NOW)  # across midnight
    [event] = restaurant.collect_events()
    assert isinstance(event, Restaurant.QuietHoursChanged) and (event.start, event.end) == ("22:00", "08:00")
    assert (restaurant.quiet_hours_start, restaurant.quiet_hours_end) == ("22:00", "08:00")
    restaurant.change_quiet_hours("22:00", "08:00", "admin", NOW)
    assert restaurant.collect_events() == []
    restaurant.change_quiet_hours(None, None, "admin", NOW)
    [cleared] = restaurant.collect_events()
    assert (cleared.start, cleared.end) == (None, None) and restaurant.quiet_hours_start is None


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [("22:00", None, "quiet_hours_end"), (None, "08:00", "quiet_hours_start"), ("09:00", "09:00", "quiet_hours_end")],
)
def test_quiet_hours_out_of_rule_are_refused_and_record_nothing(restaurant, start, end, field):
    with pytest.raises(InvalidInput) as raised:
        restaurant.change_quiet_hours(start, end, "admin", NOW)
    assert raised.value.field == field
    assert restaurant.collect_events() == [] and restaurant.quiet_hours_start is None


def test_a_deleted_restaurant_takes_no_quiet_hours(restaurant):
    restaurant.delete("admin", NOW)
    with pytest.raises(RestaurantNotFound):
        restaurant.change_quiet_hours("22:00", "08:00", "admin", NOW)
