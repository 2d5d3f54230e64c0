"""CustomerRoll shards: count a restaurant's customers; closed when the restaurant goes."""

from datetime import datetime, timezone
from uuid import uuid4

import pytest

from crm.write_model.customer_rolls import SHARDS, CustomerRoll, roll_id_for, roll_ids
from crm.write_model.errors import RestaurantNotFound

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def test_every_customer_maps_to_one_of_the_restaurants_shards():
    restaurant_id = uuid4()
    shards = roll_ids(restaurant_id)
    assert len(set(shards)) == SHARDS
    customers = [uuid4() for _ in range(200)]
    assert {roll_id_for(restaurant_id, c) for c in customers} == set(shards)
    assert roll_ids(uuid4())[0] not in shards


def test_joins_and_leaves_are_counted():
    restaurant_id, ann, bob = uuid4(), uuid4(), uuid4()
    roll = CustomerRoll.start(uuid4(), restaurant_id, "admin", NOW)
    roll.admit(ann, "admin", NOW)
    roll.admit(bob, "admin", NOW)
    roll.release(ann, "admin", NOW)
    events = roll.collect_events()
    assert [type(e) for e in events] == [
        CustomerRoll.Started,
        CustomerRoll.CustomerJoined,
        CustomerRoll.CustomerJoined,
        CustomerRoll.CustomerLeft,
    ]
    assert roll.count == 1


def test_a_closed_roll_admits_nobody_and_closes_once():
    roll = CustomerRoll.start(uuid4(), uuid4(), "admin", NOW)
    roll.close("admin", NOW)
    roll.close("admin", NOW)
    assert [type(e) for e in roll.collect_events()] == [CustomerRoll.Started, CustomerRoll.Closed]
    with pytest.raises(RestaurantNotFound):
        roll.admit(uuid4(), "admin", NOW)
