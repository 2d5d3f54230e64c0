"""Restaurant aggregate: given events, when a command, then the new events."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from crm.write_model.errors import RestaurantNotFound
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
