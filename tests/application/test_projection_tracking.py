"""Projection positions move forward by compare-and-set only."""

import logging
from uuid import uuid4

import pytest
from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.exc import OperationalError

from crm.projectors.engine import dead_letters, tracking
from crm.projectors.engine.runner import LostRace
from crm.read_model.tables import restaurants


def test_advance_refuses_a_stale_or_backward_move(container):
    datastore = container.application.factory.datastore
    with datastore.transaction(commit=True) as session:
        assert tracking.position(session, "probe") == 0  # no row yet
        assert tracking.advance(session, "probe", 0, 10)  # the first batch creates the row
        assert not tracking.advance(session, "probe", 0, 12)  # someone else moved it first
        assert not tracking.advance(session, "probe", 10, 9)  # never backwards
        assert not tracking.advance(session, "probe", 11, 20)  # only from where it really is
        assert tracking.advance(session, "probe", 10, 12)
        assert tracking.position(session, "probe") == 12


@pytest.mark.parametrize("behind", ["at position 0", "one event behind"])
def test_a_batch_from_a_stale_position_changes_nothing(application, container, behind):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None)
    application.record_visit(customer_id, 700, actor="admin", scope=None)
    before = container.queries.customer(customer_id, None)
    notifications = application.recorder.select_notifications(1, 100)
    # Check a runner that believes the projection behind where it is cannot apply events again:
    # from 0 (the first batch's path) or from one event back (on PostgreSQL, writes sent in one
    # string with the move), its writes are undone with the lost race.
    batch = notifications if behind == "at position 0" else notifications[-1:]
    start, end = (0 if behind == "at position 0" else notifications[-2].id), notifications[-1].id
    with pytest.raises(LostRace):
        container.runner._apply_batch(container.runner.projectors["customers"], start, end, batch)
    assert container.queries.customer(customer_id, None) == before
    with container.engine.connect() as conn:
        assert tracking.position(conn, "customers") == end


def _raises(events, session):
    raise RuntimeError("database went away")


def _refused_by_a_constraint(events, session):  # sent with the locked append on PostgreSQL
    session.execute(restaurants.insert(), {"id": uuid4(), "name": None, "timezone": "UTC", "created_at": None})


def _refused_as_unknown(events, session):
    session.execute(Table("no_such_table", MetaData(), Column("id", Integer)).insert(), {"id": 1})


@pytest.mark.parametrize("broken", [_raises, _refused_by_a_constraint, _refused_as_unknown])
def test_a_failed_inline_projection_keeps_the_command_and_is_reported_as_lag(container, monkeypatch, caplog, broken):
    projector = container.runner.projectors["restaurants"]
    monkeypatch.setattr(projector, "apply", broken)
    with caplog.at_level(logging.ERROR):
        recorded = container.application.open_restaurant("Pizza Palace", actor="admin")
        reached = container.read_side.wait_for(recorded.position, container.read_side.concerned(recorded.topics))
    # Check the command stands (its event is in the log), the read side says it lags.
    assert [n.id for n in container.application.recorder.select_notifications(1, 10)] == [recorded.position]
    assert reached is False
    assert container.queries.restaurant(recorded.id, None) is None
    assert "inline projection failed" in caplog.text
    # Check the catch-up the wait tried kept the event as one the projection cannot apply, and
    # stopped before it (PROJECTION_ON_ERROR=stop): fixed, it stays stopped until retried.
    [letter] = dead_letters.unresolved(container.engine)["restaurants"]
    assert (letter["position"], letter["originator_id"]) == (recorded.position, recorded.id)
    monkeypatch.undo()
    assert container.read_side.wait_for(recorded.position, ["restaurants"], timeout=0.2) is False
    # Check a retry, once the projector works again, brings the row.
    assert container.runner.retry("restaurants") == {"released": 1, "applied": 0, "failed": 0}
    assert container.read_side.wait_for(recorded.position, ["restaurants"])
    assert container.queries.restaurant(recorded.id, None)["name"] == "Pizza Palace"
    assert dead_letters.unresolved(container.engine) == {}


def test_a_command_projects_its_own_events_in_its_transaction(container, monkeypatch):
    application = container.application
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    # Check no catch-up runs after the command: its transaction already projected it.
    monkeypatch.setattr(container.runner, "catch_up_projection", None)
    recorded = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None)
    assert container.read_side.wait_for(recorded.position, container.read_side.concerned(recorded.topics))
    assert container.queries.customer(recorded.id, None)["email"] == "a@example.com"


def test_an_inline_projection_stopped_by_an_outage_is_a_warning_without_a_traceback(container, monkeypatch, caplog):
    def connection_lost(events, session):
        raise OperationalError("RELEASE SAVEPOINT sa_savepoint_1", {}, Exception("server closed"), True)

    monkeypatch.setattr(container.runner.projectors["restaurants"], "apply", connection_lost)
    with caplog.at_level(logging.WARNING, logger="crm.projectors.engine.inline"):
        recorded = container.application.open_restaurant("Pizza Palace", actor="admin")

    assert [n.id for n in container.application.recorder.select_notifications(1, 10)] == [recorded.position]
    [record] = [r for r in caplog.records if r.name == "crm.projectors.engine.inline"]
    assert (record.levelno, record.exc_info) == (logging.WARNING, None)
    assert "the database is unavailable (OperationalError)" in record.getMessage()

    # Check the wait that catches up after the command reports the same outage the same way.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="crm.projectors.engine.read_side"):
        assert container.read_side.wait_for(recorded.position, ["restaurants"]) is False
    [record] = [r for r in caplog.records if r.name == "crm.projectors.engine.read_side"]
    assert (record.levelno, record.exc_info) == (logging.WARNING, None)
