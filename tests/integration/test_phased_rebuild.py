"""A rebuild's phased replay: the customers projection replayed by several processes, each
taking a share of the streams, one group of events after the other, equals the tables built
event by event; a worker that fails fails the rebuild and leaves the live tables alone."""

import logging
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from functools import partial
from uuid import uuid4

import pytest
from sqlalchemy import text

from crm import bootstrap
from crm.projectors.engine import Rebuilder, rebuild
from crm.projectors.engine.replay import SIDE
from crm.write_model.customers import Customer
from crm.write_model.visits import Visit
from tests.scenarios import scripted_history, snapshot_tables

PHASES_LOGGER = "crm.projectors.engine.phased_replay"


def _legacy_visits(application, container, clock) -> None:
    """Visits as recorded before they had their own streams (events of their customer), one of
    them corrected, on a customer who also has visits of their own streams."""
    restaurant_id = application.open_restaurant("Old Diner", actor="admin")
    customer_id = application.register_customer(restaurant_id, "old@example.com", actor="admin", scope=None)
    customer = container.application.repository.get(customer_id)
    first, second = uuid4(), uuid4()
    for visit_id, spend in ((first, 1000), (second, 2500)):
        customer.trigger_event(
            Customer.VisitRecorded,
            visit_id=visit_id,
            spend_cents=spend,
            visited_at=clock() - timedelta(days=3),
            actor="a",
            timestamp=clock(),
        )
    customer.trigger_event(
        Customer.VisitCorrected,
        visit_id=second,
        spend_cents=700,
        visited_at=clock() - timedelta(days=1),
        actor="a",
        timestamp=clock(),
    )
    recorded = container.application._save_recorded(first, customer)
    container.read_side.wait_for(recorded.position)
    visit = application.record_visit(customer_id, 300, clock() - timedelta(days=5), actor="a", scope=None)
    application.correct_visit(visit, actor="a", scope=None, spend_cents=350)
    application.record_visit(customer_id, 90, clock() - timedelta(days=4), actor="a", scope=None)


def _failing_runner(settings):
    raise RuntimeError("this worker cannot start")


def _runner_failing_on_visits(settings):
    """A runner whose customers projection cannot apply a batch that holds a visit."""
    runner = bootstrap.projection_runner(settings)
    projector = runner.projectors["customers"]

    def apply(events, session, *, phased=False):
        if any(isinstance(event, Visit.VisitRecorded) for event in events):
            raise RuntimeError("a visit this worker cannot apply")
        return type(projector).apply(projector, events, session, phased=phased)

    projector.apply = apply
    return runner


def test_a_phased_rebuild_by_three_workers_equals_the_tables_built_event_by_event(
    application, container, settings, clock, caplog
):
    scripted_history(application, clock)
    _legacy_visits(application, container, clock)
    incremental = snapshot_tables(container)
    rebuilder = Rebuilder(
        container.runner,
        batch_size=4,  # many batches in each worker, and several rounds of catch-up
        runner_factory=partial(bootstrap.projection_runner, settings),
        workers=3,
    )

    with caplog.at_level(logging.INFO, logger=PHASES_LOGGER):
        applied = rebuilder.rebuild_all(["customers"])

    # Check the customers' events went through both phases, by three processes
    phases = [r.getMessage() for r in caplog.records if r.name == PHASES_LOGGER and "phase" in r.getMessage()]
    assert [message.split(",")[0] for message in phases] == ["customers: phase 1 of 2", "customers: phase 2 of 2"]
    assert all("by 3 processes" in message for message in phases)
    assert applied["customers"] > 0
    # Check the tables, totals included, equal those built event by event
    assert snapshot_tables(container) == incremental


def test_the_default_rebuilder_of_a_process_replays_in_phases_and_a_second_rebuild_changes_nothing(
    application, container, clock, caplog
):
    scripted_history(application, clock)
    incremental = snapshot_tables(container)

    with caplog.at_level(logging.INFO, logger=PHASES_LOGGER):
        bootstrap.rebuilder(container, workers=2).rebuild_all()
        bootstrap.rebuilder(container, workers=2).rebuild_all()

    assert sum("phase 2 of 2" in r.getMessage() for r in caplog.records if r.name == PHASES_LOGGER) == 2
    assert snapshot_tables(container) == incremental


def test_a_worker_that_fails_fails_the_rebuild_and_the_live_tables_stay(application, container, settings, clock):
    scripted_history(application, clock)
    live = snapshot_tables(container)
    rebuilder = Rebuilder(container.runner, runner_factory=partial(_failing_runner, settings), workers=2)

    with pytest.raises(BrokenProcessPool):
        rebuilder.rebuild_all(["customers"])

    assert snapshot_tables(container) == live
    # Check the next rebuild is not refused, and still gives the same tables
    Rebuilder(container.runner).rebuild_all(["customers"])
    assert snapshot_tables(container) == live


def test_a_worker_that_fails_in_the_second_phase_fails_the_rebuild_with_its_error(
    application, container, settings, clock
):
    scripted_history(application, clock)
    live = snapshot_tables(container)
    rebuilder = Rebuilder(container.runner, runner_factory=partial(_runner_failing_on_visits, settings), workers=2)

    with pytest.raises(RuntimeError, match="a visit this worker cannot apply"):
        rebuilder.rebuild_all(["customers"])

    assert snapshot_tables(container) == live


def test_the_partitions_of_a_log_read_split_its_streams_without_overlap(application, container, clock):
    scripted_history(application, clock)
    recorder, head = container.runner.recorder, container.runner.head()
    everything, _ = recorder.read_window(0, head, 10_000)

    parts = [recorder.read_window(0, head, 10_000, (), (part, 3))[0] for part in range(3)]

    ids = [[n.id for n in part] for part in parts]
    assert sorted(i for part in ids for i in part) == [n.id for n in everything]
    assert all(part == sorted(part) for part in ids)  # each part in log order
    streams = [{n.originator_id for n in part} for part in parts]
    assert not (streams[0] & streams[1] or streams[0] & streams[2] or streams[1] & streams[2])
    assert all(streams)  # the scripted history's streams are spread over every part


def test_a_phased_replay_writes_without_secondary_indexes_and_the_swapped_tables_have_them_all(
    application, container, clock, monkeypatch
):
    scripted_history(application, clock)
    incremental = snapshot_tables(container)
    side_indexes: list[set[str]] = []
    replay_in_phases = rebuild.replay_in_phases

    def noted(workers, projector, connection, *args):
        side_indexes.append(_indexes(connection, SIDE))
        return replay_in_phases(workers, projector, connection, *args)

    monkeypatch.setattr(rebuild, "replay_in_phases", noted)
    bootstrap.rebuilder(container, workers=2).rebuild_all(["customers"])

    projector = container.runner.projectors["customers"]
    every_index = {index.name for table in projector.tables for index in table.indexes}
    assert "ix_visits_customer_visited" in every_index  # kept during a replay in order
    assert side_indexes == [set()]  # during the phases: the primary keys alone
    with container.engine.connect() as connection:
        assert every_index <= _indexes(connection, None)
    assert snapshot_tables(container) == incremental


def _indexes(connection, schema: str | None) -> set[str]:
    """The names of the indexes of the customers projection's tables in `schema` (None: the
    live one), primary keys aside."""
    return set(
        connection.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = coalesce(:schema, current_schema())"
                " AND tablename IN ('customers', 'visits', 'consent_changes') AND indexname NOT LIKE '%pkey'"
            ),
            {"schema": schema},
        ).scalars()
    )
