"""Real `crm projector` processes: one active per projection, takeover on kill -9, reconnection
after the server drops their connections, and never an event applied twice.

"Applied twice" is checked from the projectors' own DEBUG lines: each committed batch logs the
range of notification ids it covered, so the ranges of every process together must never
overlap; and the tables they built must equal a fresh rebuild from the log.
"""

import re
from dataclasses import replace

import pytest
from sqlalchemy import text

from crm import bootstrap
from crm.projectors.engine import Rebuilder
from tests.integration.workers import PROJECTIONS, ProjectorProcess, VisitWriter, caught_up, wait_until
from tests.scenarios import scripted_history, snapshot_tables


@pytest.fixture
def writer(settings, container, clock):
    """An application that only writes: the projector processes do all the projecting."""
    built = bootstrap.build(replace(settings, projection_mode="background"), clock=clock)
    yield built
    built.close()


@pytest.fixture
def start_projector(settings, tmp_path):
    started: list[ProjectorProcess] = []

    def start() -> ProjectorProcess:
        process = ProjectorProcess(settings, tmp_path / f"projector-{len(started)}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def assert_no_range_applied_twice(*processes: ProjectorProcess) -> dict[str, list[tuple[int, int]]]:
    merged: dict[str, list[tuple[int, int]]] = {}
    for process in processes:
        for name, ranges in process.applied_ranges().items():
            merged.setdefault(name, []).extend(ranges)
    for name, ranges in merged.items():
        ranges.sort()
        for (_, previous_end), (start, end) in zip(ranges, ranges[1:], strict=False):
            assert start >= previous_end, f"{name}: ({start}, {end}] overlaps a range ending at {previous_end}"
    return merged


# The projector's own line (other parts of the process, the key erasure follower, reconnect too).
RECONNECTING = re.compile(r"projector lost its database connection[^\n]*reconnecting")


def reconnected_since(projector: ProjectorProcess, offset: int) -> bool:
    """Whether, after `offset` in its log, the projector reconnected and has since become active
    again for every projection (each (re)connection logs "projector active for ...")."""
    log = projector.log()[offset:]
    reconnections = list(RECONNECTING.finditer(log))
    if not reconnections:
        return False
    active = set()
    for match in re.finditer(r"projector active for ([\w, ]+)", log[reconnections[-1].end() :]):
        active |= {name.strip() for name in match[1].split(",")}
    return active == PROJECTIONS


def assert_tables_equal_a_fresh_rebuild(container):
    built_by_projectors = snapshot_tables(container)
    Rebuilder(container.runner).rebuild_all()
    assert snapshot_tables(container) == built_by_projectors


def test_two_projectors_started_at_once_apply_each_event_exactly_once(writer, container, clock, start_projector):
    with VisitWriter(writer.application) as visits:
        wait_until(lambda: visits.count >= 50, 60, message="visits being written")  # work waiting for them
        first, second = start_projector(), start_projector()
        scripted_history(writer.application, clock)
        seen = visits.count
        wait_until(lambda: visits.count >= seen + 100, 60, message="visits being written")
    wait_until(lambda: caught_up(container), 30, message="projectors catching up")

    # Check each projection had one active process, and together they left no gap and no overlap.
    assert first.active_for() | second.active_for() == PROJECTIONS
    assert not first.active_for() & second.active_for()
    head = container.runner.head()
    for name, ranges in assert_no_range_applied_twice(first, second).items():
        assert ranges[0][0] == 0 and ranges[-1][1] == head
        assert all(start == previous_end for (_, previous_end), (start, _) in zip(ranges, ranges[1:], strict=False)), (
            name
        )
    first.stop()
    second.stop()
    assert_tables_equal_a_fresh_rebuild(container)


def test_kill_9_of_the_active_projector_hands_over_to_the_standby(writer, container, clock, start_projector):
    active = start_projector()
    wait_until(
        lambda: active.active_for() == PROJECTIONS, 30, message=f"first projector active: {active.log()[-2000:]}"
    )
    standby = start_projector()
    with VisitWriter(writer.application) as visits:
        wait_until(lambda: visits.count >= 50, 60)
        active.kill()
        wait_until(
            lambda: standby.active_for() == PROJECTIONS, 30, message=f"standby takes over: {standby.log()[-2000:]}"
        )
        seen = visits.count
        wait_until(lambda: visits.count >= seen + 50, 60)
    scripted_history(writer.application, clock)  # every projection gets work after the takeover
    wait_until(lambda: caught_up(container), 30, message="standby catching up")

    assert standby.applied_ranges(), "the standby applied nothing"
    assert_no_range_applied_twice(active, standby)
    standby.stop()
    assert_tables_equal_a_fresh_rebuild(container)


def test_dropped_connections_are_reopened_and_nothing_is_applied_twice(writer, container, clock, start_projector):
    projector = start_projector()
    wait_until(lambda: projector.active_for() == PROJECTIONS, 30, message=projector.log()[-2000:])
    with VisitWriter(writer.application) as visits:
        for _ in range(3):
            seen = visits.count
            wait_until(lambda seen=seen: visits.count >= seen + 30, 60)
            cut_at = len(projector.log())
            with container.engine.connect() as conn:
                dropped = conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = 'crm-projector' AND datname = current_database()"
                    )
                ).scalar_one()
            assert dropped >= 1
            # Check it reconnects and holds every projection again before the next cut (one cut
            # may cost more than one reconnection: each connection finds out on its own).
            wait_until(lambda cut_at=cut_at: reconnected_since(projector, cut_at), 60, message="reconnects")
    scripted_history(writer.application, clock)
    wait_until(lambda: caught_up(container), 30, message=projector.log()[-3000:])

    assert projector.process.poll() is None, "the projector exited instead of reconnecting"
    assert RECONNECTING.search(projector.log())
    assert_no_range_applied_twice(projector)
    projector.stop()
    assert_tables_equal_a_fresh_rebuild(container)


def test_status_shows_only_the_projectors_of_this_database(settings, container):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from crm.locks import lock_key
    from crm.projectors.engine import projection_status
    from crm.projectors.engine.leases import lease_name

    # Advisory locks are per database: a projector of another database in the same cluster
    # holds the same key, and must not pass for ours.
    other = create_engine(make_url(settings.database_url).set(database="postgres"))
    try:
        with other.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(lease_name("restaurants"))})
            rows = {row["name"]: row["projector"] for row in projection_status(container.runner)}
            assert rows["restaurants"] == "none"
            with container.engine.connect() as ours:
                ours.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(lease_name("restaurants"))})
                rows = {row["name"]: row["projector"] for row in projection_status(container.runner)}
                assert rows["restaurants"].startswith("active (pid ")
    finally:
        other.dispose()
