"""On PostgreSQL, the projections without phases are rebuilt together: one read of the log
serves them all, and each gets the tables and position a rebuild of its own would give."""

from sqlalchemy import select

from crm import bootstrap
from crm.projectors.engine import phased_replay
from crm.read_model.tables import projection_tracking
from tests.scenarios import scripted_history, snapshot_tables


def test_the_projections_without_phases_share_one_read_of_the_log(application, container, clock, monkeypatch):
    scripted_history(application, clock)
    incremental = snapshot_tables(container)
    recorder = container.runner.recorder
    reads: list[frozenset[str]] = []
    read_window = recorder.read_window

    def counted(start, stop, limit, topics=(), partition=None):
        reads.append(frozenset(topics))
        return read_window(start, stop, limit, topics, partition)

    monkeypatch.setattr(recorder, "read_window", counted)
    rebuilder = bootstrap.rebuilder(container, workers=2)
    rebuilder.batch_size = 4  # several batches, so the replay goes through more than one read
    small = [name for name in container.runner.projectors if name != "customers"]
    applied = rebuilder.rebuild_all(small)

    every_topic = frozenset().union(*(container.runner.projectors[name].topics for name in small))
    assert reads and reads[0] == every_topic  # the replay's reads ask for all their topics at once
    shared = [topics for topics in reads if topics == every_topic]
    alone = [topics for topics in reads if topics != every_topic]
    assert len(shared) > 1  # in batches of 4
    # What is left is each projection's own catch-up in its swap: one window each, at most.
    assert len(alone) <= len(small) and all(len(topics) < len(every_topic) for topics in alone)
    assert list(applied) == small
    assert applied["restaurants"] > 0 and applied["campaigns"] > 0
    assert snapshot_tables(container) == incremental
    with container.engine.connect() as conn:
        positions = dict(conn.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all())
    assert {name: positions[name] for name in small} == dict.fromkeys(small, container.runner.head())


def test_the_phases_processes_start_before_the_small_projections_are_rebuilt(
    application, container, clock, monkeypatch
):
    scripted_history(application, clock)
    incremental = snapshot_tables(container)
    happened: list[str] = []
    recorder = container.runner.recorder
    read_window = recorder.read_window

    def noted_read(start, stop, limit, topics=(), partition=None):
        happened.append("read of the log")
        return read_window(start, stop, limit, topics, partition)

    started = phased_replay.PhaseWorkers.__init__

    def noted_start(self, *args, **kwargs):
        happened.append("phase workers started")
        started(self, *args, **kwargs)

    monkeypatch.setattr(recorder, "read_window", noted_read)
    monkeypatch.setattr(phased_replay.PhaseWorkers, "__init__", noted_start)
    applied = bootstrap.rebuilder(container, workers=2).rebuild_all()

    assert happened[0] == "phase workers started" and happened.count("phase workers started") == 1
    assert set(applied) == set(container.runner.projectors) and applied["customers"] > 0
    assert snapshot_tables(container) == incremental
