"""Segment aggregate: given a saved segment, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.errors import SegmentNotFound
from crm.write_model.segments import Segment

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
RULE = {"field": "visit_count", "op": "gte", "value": 3}
OTHER_RULE = {"field": "total_spend_cents", "op": "gte", "value": 20_000}


def new_events(segment: Segment) -> list:
    return list(segment.collect_events())


def saved() -> Segment:
    segment = Segment.create(uuid4(), uuid4(), "Regulars", RULE, "owner", NOW)
    new_events(segment)
    return segment


def test_create_records_the_restaurant_name_rule_and_actor():
    segment_id, restaurant_id = uuid4(), uuid4()
    segment = Segment.create(segment_id, restaurant_id, "Regulars", RULE, "owner", NOW)
    [event] = new_events(segment)
    assert isinstance(event, Segment.Created)
    assert (event.originator_id, event.restaurant_id, event.name, event.rule) == (
        segment_id,
        restaurant_id,
        "Regulars",
        RULE,
    )
    assert (event.actor, event.timestamp) == ("owner", NOW)
    assert (segment.name, segment.rule, segment.deleted) == ("Regulars", RULE, False)


@pytest.mark.parametrize(
    "name, rule",
    [("Big spenders", RULE), ("Regulars", OTHER_RULE), ("Big spenders", OTHER_RULE)],
)
def test_change_records_the_new_name_and_rule(name, rule):
    segment = saved()
    segment.change(name, rule, "editor", LATER)
    [event] = new_events(segment)
    assert isinstance(event, Segment.Changed)
    assert (event.name, event.rule, event.actor, event.timestamp) == (name, rule, "editor", LATER)
    assert (segment.name, segment.rule) == (name, rule)


def test_change_to_the_same_name_and_rule_records_nothing():
    segment = saved()
    segment.change("Regulars", dict(RULE), "editor", LATER)
    assert new_events(segment) == []


def test_delete_records_it_and_a_deleted_segment_takes_no_command():
    segment = saved()
    segment.delete("editor", LATER)
    [event] = new_events(segment)
    assert isinstance(event, Segment.Deleted) and segment.deleted
    with pytest.raises(SegmentNotFound):
        segment.change("Again", RULE, "editor", LATER)
    with pytest.raises(SegmentNotFound):
        segment.delete("editor", LATER)
