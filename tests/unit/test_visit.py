"""Visit aggregate: given events, when a command, then the new events."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from crm.write_model.errors import Conflict, VisitNotFound
from crm.write_model.visits import Visit

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
CUSTOMER = uuid4()


@pytest.fixture
def visit() -> Visit:
    visit = Visit.record(uuid4(), CUSTOMER, 2500, NOW - timedelta(hours=1), "till-1", NOW)
    visit.collect_events()
    return visit


def test_record_starts_a_stream_naming_the_customer():
    visit_id = uuid4()
    visit = Visit.record(visit_id, CUSTOMER, 2500, NOW - timedelta(hours=1), "till-1", NOW)
    [event] = visit.collect_events()
    assert isinstance(event, Visit.VisitRecorded)
    assert (event.originator_id, event.originator_version) == (visit_id, 1)
    assert (event.customer_id, event.spend_cents) == (CUSTOMER, 2500)
    assert (event.visited_at, event.actor, event.timestamp) == (NOW - timedelta(hours=1), "till-1", NOW)
    # Check the spend is not personal data: visit events are stored unencrypted.
    assert not Visit.VisitRecorded.personal_data


def test_correct_replaces_spend_and_time_and_names_the_customer(visit):
    visit.correct(1000, NOW - timedelta(hours=2), "manager", NOW)
    [event] = visit.collect_events()
    assert isinstance(event, Visit.VisitCorrected)
    assert (event.customer_id, event.spend_cents, event.visited_at) == (CUSTOMER, 1000, NOW - timedelta(hours=2))
    assert (visit.spend_cents, visit.visited_at) == (1000, NOW - timedelta(hours=2))


def test_correcting_to_the_same_values_records_nothing(visit):
    visit.correct(2500, NOW - timedelta(hours=1), "manager", NOW)
    assert visit.collect_events() == []


def test_a_voided_visit_takes_no_more_corrections_or_voids(visit):
    visit.void("manager", NOW)
    [event] = visit.collect_events()
    assert isinstance(event, Visit.VisitVoided) and event.customer_id == CUSTOMER
    with pytest.raises(VisitNotFound):
        visit.correct(1, NOW, "manager", NOW)
    with pytest.raises(VisitNotFound):
        visit.void("manager", NOW)


def test_a_replay_must_name_the_same_customer_of_a_visit_that_still_counts(visit):
    visit.require_replay_of(CUSTOMER)  # the same request again: fine
    with pytest.raises(Conflict):
        visit.require_replay_of(uuid4())
    visit.void("manager", NOW)
    with pytest.raises(Conflict):
        visit.require_replay_of(CUSTOMER)
