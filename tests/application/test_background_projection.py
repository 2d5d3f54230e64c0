"""Background projection on either database: a projector daemon (threads here, processes in the
integration tier), one active at a time, commands that wait for it, and `projections status`."""

import threading
import time
from dataclasses import replace

import pytest
from click.testing import CliRunner
from eventsourcing.utils import get_topic

from crm import bootstrap
from crm.cli import main
from crm.projectors import all_projectors
from crm.projectors.engine import ProjectorDaemon
from crm.projectors.engine.leases import Leases
from crm.write_model.visits import Visit
from tests.commands import Caller
from tests.integration.workers import wait_until


@pytest.fixture
def background(settings, container, clock):
    built = bootstrap.build(replace(settings, projection_mode="background", read_your_writes_timeout=5.0), clock=clock)
    yield built
    built.close()


@pytest.fixture
def daemons(settings, clock):
    running = []

    def start():
        owner = bootstrap.build(settings, clock=clock)
        daemon = ProjectorDaemon(owner.runner, poll_seconds=0.02, standby_seconds=0.1)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        running.append((owner, daemon, thread))
        return daemon

    yield start
    for owner, daemon, thread in running:
        daemon.stop()
        thread.join(10)
        owner.close()


def test_commands_wait_for_the_projector_and_their_effects_are_readable_at_once(background, daemons):
    daemons()
    app = Caller(background)
    restaurant_id = app.open_restaurant("Pizza Palace", actor="admin")
    assert background.queries.restaurant(restaurant_id, None)["name"] == "Pizza Palace"
    customer_id = app.register_customer(restaurant_id, "ann@example.com", actor="admin", scope=None)
    visit_id = app.record_visit(customer_id, 1500, actor="admin", scope=None)
    app.correct_visit(visit_id, actor="admin", scope=None, spend_cents=1700)
    assert background.queries.customer(customer_id, None)["total_spend_cents"] == 1700
    assert app.stale == []


def test_without_a_projector_a_command_reports_the_read_model_stale(settings, container, clock):
    impatient = bootstrap.build(
        replace(settings, projection_mode="background", read_your_writes_timeout=0.1), clock=clock
    )
    try:
        app = Caller(impatient)
        restaurant_id = app.open_restaurant("Pizza Palace", actor="admin")
        assert [recorded.id for recorded in app.stale] == [restaurant_id]
        assert impatient.queries.restaurant(restaurant_id, None) is None  # this process projected nothing
    finally:
        impatient.close()


def test_a_second_projector_stands_by_until_the_first_stops(background, daemons, monkeypatch):
    tries = _count_lease_tries(monkeypatch)
    first = daemons()
    wait_until(lambda: _holds(first), 10)
    second = daemons()
    Caller(background).open_restaurant("Pizza Palace", actor="admin")
    # Check the standby, having tried for the leases at least twice since (once wholly after the
    # command), still holds none.
    since = tries.of(second)
    wait_until(lambda: tries.of(second) >= since + 2, 10, 0.01, message="the standby tries for the leases")
    assert not _holds(second)
    first.stop()
    wait_until(lambda: _holds(second), 10, message="the standby takes over")
    restaurant_id = Caller(background).open_restaurant("Taco Town", actor="admin")
    assert background.queries.restaurant(restaurant_id, None) is not None


def test_projections_status_shows_positions_head_and_lag(settings, background):
    background.application.open_restaurant("Pizza Palace", actor="admin")  # nobody projects it
    env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, ["projections", "status"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["projection", "position", "head", "behind", "projector"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    head = background.runner.head()
    assert set(rows) == {projector.name for projector in all_projectors()}
    assert rows["restaurants"][:3] == ["0", str(head), "1"] and rows["restaurants"][3] == "none"
    assert rows["campaigns"][:3] == ["0", str(head), "0"]  # no campaign event waits for it
    assert rows["segments"][:3] == ["0", str(head), "0"]


class _LeaseTries:
    """How many times each daemon's leases have tried to take the projections (tries finished)."""

    def __init__(self):
        self.by_leases: dict[Leases, int] = {}
        self.lock = threading.Lock()

    def of(self, daemon: ProjectorDaemon) -> int:
        with self.lock:
            return self.by_leases.get(daemon.leases, 0)


def _count_lease_tries(monkeypatch) -> _LeaseTries:
    tries = _LeaseTries()
    acquire = Leases.acquire

    def counted(leases: Leases) -> set[str]:
        taken = acquire(leases)
        with tries.lock:
            tries.by_leases[leases] = tries.by_leases.get(leases, 0) + 1
        return taken

    monkeypatch.setattr(Leases, "acquire", counted)
    return tries


def _holds(daemon: ProjectorDaemon) -> bool:
    """Whether this daemon currently holds any projection (it logs that; here we peek)."""
    return bool(getattr(daemon, "leases", None) and daemon.leases.held)


def test_a_wake_follows_only_the_projections_the_new_events_concern(background, monkeypatch):
    application = background.application  # no projector runs: nothing to wait for
    runner = background.runner
    daemon = ProjectorDaemon(runner)
    held = set(runner.projectors)
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None).id
    # Check the first wake follows every projection (each reads its own position).
    assert _sorted(daemon._concerned(held)) == (sorted(held), None)
    for name in held:
        runner.catch_up_projection(name)
    head = application.recorder.head()
    assert daemon._concerned(held) == ([], head)

    application.record_visit(customer_id, 500, actor="admin", scope=None)
    # Check a visit wakes the customers projection only, up to it; the others move past it later.
    monkeypatch.setattr(runner, "idle_advance_due", lambda name: False)
    assert daemon._concerned(held) == (["customers"], head + 1)
    monkeypatch.setattr(runner, "idle_advance_due", lambda name: True)
    assert _sorted(daemon._concerned(held)) == (sorted(held), head + 1)
    # Check following to that head brings the projection there in one batch.
    assert runner.follow("customers", head + 1) == 1
    assert runner.reached["customers"] == head + 1


def test_a_wake_reads_the_head_and_the_topics_after_a_position_together(background):
    application = background.application
    recorder = application.recorder
    assert recorder.head_and_topics_after(0) == (0, set())  # an empty log
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None).id
    head = recorder.head()
    logged = {n.topic for n in recorder.select_notifications(1, 100)}

    assert recorder.head_and_topics_after(0) == (head, logged)
    application.record_visit(customer_id, 500, actor="admin", scope=None)
    assert recorder.head_and_topics_after(head) == (head + 1, {get_topic(Visit.VisitRecorded)})
    assert recorder.head_and_topics_after(head + 1) == (head + 1, set())  # nothing after it


def test_an_idle_projector_on_postgresql_looks_once_a_second_and_wakes_at_a_commit(
    on_postgres, background, settings, clock, monkeypatch
):
    owner = bootstrap.build(settings, clock=clock)
    daemon = ProjectorDaemon(owner.runner, poll_seconds=0.01, standby_seconds=1.0)
    looks: list[float] = []
    concerned = daemon._concerned
    monkeypatch.setattr(daemon, "_concerned", lambda held: looks.append(time.monotonic()) or concerned(held))
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: _holds(daemon), timeout=10)
        time.sleep(0.2)
        # Check an idle projector looks at the log once a second (polling every 10 ms: about 150).
        before = len(looks)
        time.sleep(1.5)
        assert len(looks) - before <= 3
        # Check a commit wakes it at once, and its effect is read as soon as the command returns.
        committed = time.monotonic()
        app = Caller(background)
        restaurant_id = app.open_restaurant("Pizza Palace", actor="admin")
        assert background.queries.restaurant(restaurant_id, None)["name"] == "Pizza Palace"
        assert time.monotonic() - committed < 0.5
        assert app.stale == []
    finally:
        daemon.stop()
        thread.join(10)
        owner.close()
    assert not thread.is_alive()


def _sorted(concerned: tuple[list[str], int | None]) -> tuple[list[str], int | None]:
    return sorted(concerned[0]), concerned[1]


def test_a_save_with_nothing_new_records_nothing_in_either_mode(container, background):
    """The sender's last flush is empty when a batch ends on a flush boundary (100 or 200
    records); on PostgreSQL in background mode such a save once failed, so the batch never
    finished and its campaign stayed running."""
    for built in (container, background):
        head = built.runner.head()
        assert built.application.save() == []
        assert built.event_store.recorder.insert_events([]) == []
        assert built.application.record_outcomes([]).position == 0
        assert built.runner.head() == head


def test_a_wait_passes_a_projection_behind_only_by_events_that_do_not_concern_it(background):
    application = background.application  # no projector runs: each projection moves when told
    runner = background.runner
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None).id
    for name in runner.projectors:
        runner.catch_up_projection(name)
    application.record_visit(customer_id, 500, actor="admin", scope=None)
    head = application.recorder.head()
    assert runner.reached["restaurants"] < head  # `crm projector` moves it past the visit only later
    # Check the restaurants projection counts as current: the visit is nothing to it.
    assert background.read_side.wait_for(head, ["restaurants", "segments"], timeout=5.0)
    # Check the customers projection, which has the visit to apply, is still waited for.
    assert not background.read_side.wait_for(head, ["customers"], timeout=0.3)
    assert not background.read_side.wait_for(head, ["restaurants", "customers"], timeout=0.3)
    runner.catch_up_projection("customers")
    assert background.read_side.wait_for(head, ["restaurants", "customers"], timeout=5.0)
