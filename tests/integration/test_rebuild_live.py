"""A rebuild builds fresh tables and swaps them in while writers, readers and the live projector
go on: readers never see a half-built table, and the result equals the incremental tables."""

import threading
from dataclasses import replace

from sqlalchemy import func, inspect, select, text

from crm import bootstrap
from crm.projectors.engine import ProjectorDaemon, Rebuilder
from crm.read_model.tables import customers, visits
from tests.integration.workers import Loop, VisitWriter, caught_up, wait_until
from tests.scenarios import scripted_history, snapshot_tables


class Reader(Loop):
    """Counts rows in a loop; a rebuild must never show it fewer rows than it saw before."""

    interval = 0.002

    def __init__(self, engine):
        super().__init__()
        self.engine = engine
        self.errors: list[BaseException] = []
        self.shrank: list[tuple[int, int]] = []
        self.reads = 0
        self.seen = 0

    def step(self):
        try:
            with self.engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(visits)).scalar_one()
                conn.execute(select(customers.c.id).limit(5)).all()
        except Exception as error:  # noqa: BLE001 - any failure is what the test looks for
            self.errors.append(error)
            return
        if count < self.seen:
            self.shrank.append((self.seen, count))
        self.seen = max(self.seen, count)
        self.reads += 1


class SlowReader(Loop):
    """Keeps a transaction open on `visits` until a swap has queued behind it and given up once.

    So the swap's first try always times out (its lock_timeout is 200 ms) and the retry path
    runs; then the reader lets go, and the next try gets the tables.
    """

    interval = 0.01

    def __init__(self, engine):
        super().__init__()
        self.engine = engine
        self.done = False

    def step(self):
        if self.done:  # once: a reader that came back every time would starve the swap for good
            return
        with self.engine.connect() as conn:
            conn.execute(select(func.count()).select_from(visits)).scalar_one()  # ACCESS SHARE, held
            while not self.stopping.is_set():
                if self._swap_waiting():
                    self.stopping.wait(0.4)  # longer than the swap's lock_timeout
                    self.done = True
                    break
                self.stopping.wait(0.02)
            conn.rollback()

    def _swap_waiting(self) -> bool:
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                        " WHERE c.relname = 'visits' AND l.mode = 'AccessExclusiveLock' AND NOT l.granted"
                    )
                ).scalar_one()
            )


def test_rebuild_swaps_fresh_tables_in_under_live_traffic(settings, container, clock, caplog):
    writer = bootstrap.build(replace(settings, projection_mode="background"), clock=clock)
    live = bootstrap.build(settings, clock=clock)
    daemon = ProjectorDaemon(live.runner, poll_seconds=0.05)
    following = threading.Thread(target=daemon.run, daemon=True)
    following.start()
    indexes_before = {t: sorted(i["name"] for i in inspect(container.engine).get_indexes(t)) for t in ("visits",)}
    try:
        scripted_history(writer.application, clock)
        with VisitWriter(writer.application) as busy, Reader(container.engine) as reader:
            wait_until(lambda: busy.count >= 100, 60)
            rebuilder = Rebuilder(container.runner, batch_size=25)  # many batches, several catch-up rounds
            rebuilder.analyze_after_events = 50  # the side tables analyzed as they grow, several times
            with SlowReader(container.engine), caplog.at_level("INFO", logger="crm.projectors.engine.rebuild"):
                applied = {name: rebuilder.rebuild(name) for name in ("customers", "campaigns", "restaurants")}
            seen = busy.count
            wait_until(lambda: busy.count >= seen + 50, 60)  # the live projector goes on after the swap
        wait_until(lambda: caught_up(container), 30)
    finally:
        daemon.stop()
        following.join(10)
        live.close()
        writer.close()

    assert applied["customers"] > 100
    assert "swap of customers waits for readers" in caplog.text  # the retry path really ran
    assert reader.reads > 20 and not reader.errors, reader.errors[:3]
    assert not reader.shrank, f"a reader saw the visits table shrink: {reader.shrank[:3]}"
    assert {t: sorted(i["name"] for i in inspect(container.engine).get_indexes(t)) for t in ("visits",)} == (
        indexes_before
    )
    # Check the swapped-in tables, kept current by the live projector since, equal a fresh rebuild.
    after = snapshot_tables(container)
    Rebuilder(container.runner).rebuild_all()
    assert snapshot_tables(container) == after


def test_a_second_rebuild_at_the_same_time_is_refused(settings, container):
    from click.testing import CliRunner

    from crm.cli import main
    from crm.locks import exclusive

    with exclusive(container.engine, "crm:rebuild") as held:  # as a running rebuild holds it
        assert held
        env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "LOG_LEVEL": "WARNING"}
        result = CliRunner().invoke(main, ["projections", "rebuild", "customers"], env=env)
    assert result.exit_code == 1
    assert "another rebuild is running" in result.output
