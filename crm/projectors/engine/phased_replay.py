"""A rebuild's replay in phases, each by several processes (PostgreSQL).

A projection declares `replay_phases`: groups of its events such that an event of a group
writes only rows of its own stream and reads only rows that earlier groups, or earlier events
of its own stream, wrote. Then replaying the groups one after the other, each group's streams
split between processes (`get_byte(uuid_send(originator_id), 15) % n` in the log read, so every
stream is read whole and in log order by one of them), gives the tables an in-order replay
gives, once the projection's `finish_phased_replay` has restored what the phases left out.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ProcessPoolExecutor

from eventsourcing.utils import get_topic
from sqlalchemy import text
from sqlalchemy.engine import Connection

from crm.cyclic_gc import cycle_collection_paused
from crm.projectors.base import Projector
from crm.projectors.engine.replay import Reader, SideSession
from crm.projectors.engine.runner import ProjectionRunner

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def can_replay_in_phases(projector: Projector) -> bool:
    """Whether `projector` has phases that name every event it handles."""
    covered = {get_topic(cls) for phase in projector.replay_phases for cls in phase}
    return bool(projector.replay_phases) and covered == projector.topics  # else an event would be lost


class PhaseWorkers:
    """The `count` processes that replay the phases, each building its runner once with
    `runner_factory`. They are started at once, so that their start (imports, connections:
    about a second) overlaps what the rebuild does before its phases."""

    def __init__(self, runner_factory: Callable[[], ProjectionRunner], count: int):
        context = multiprocessing.get_context("spawn")  # a fork would copy this process's threads' locks
        self.count = count
        self.positions, self.stopping = context.Array("q", count), context.Event()
        # An executor, not a Pool: a worker that dies or cannot start fails the phase at once
        # (BrokenProcessPool) instead of leaving its task waiting for ever.
        started = (runner_factory, self.positions, self.stopping)
        self.pool = ProcessPoolExecutor(count, context, initializer=_start_worker, initargs=started)
        for _ in range(count):  # a task each, while none is idle yet: the executor starts them all
            self.pool.submit(_started)

    def __enter__(self) -> PhaseWorkers:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True)


def replay_in_phases(
    workers: PhaseWorkers,
    projector: Projector,
    connection: Connection,
    stop: int,
    batch_size: int,
    progress: Progress | None,
    analyze: Callable[[], None],
) -> int:
    """Replay `projector`'s events with ids up to `stop` into the side tables, phase after
    phase, each by all the `workers`; then let the projector finish. `analyze` refreshes the
    side tables' statistics between phases. Returns the events applied."""
    pool, positions, stopping, count = workers.pool, workers.positions, workers.stopping, workers.count
    phases, applied = projector.replay_phases, 0
    for number, phase in enumerate(phases):
        began = time.perf_counter()
        topics = sorted(get_topic(cls) for cls in phase)
        parts = [
            pool.submit(_replay_partition, projector.name, topics, stop, (part, count), batch_size)
            for part in range(count)
        ]
        while not all(part.done() for part in parts):
            futures.wait(parts, timeout=0.2, return_when=futures.FIRST_EXCEPTION)
            if any(part.done() and part.exception() for part in parts):
                break
            if progress:  # one bar over all phases
                progress(projector.name, (number * stop + min(positions[:])) // len(phases), stop)
        try:
            events = sum(part.result() for part in parts)  # raises what a worker raised
        except BaseException:
            stopping.set()  # the others stop at their next batch
            raise
        applied += events
        log.info(
            "%s: phase %d of %d, %d events by %d processes in %.1f s",
            projector.name,
            number + 1,
            len(phases),
            events,
            count,
            time.perf_counter() - began,
        )
        analyze()  # the next phase looks up what this one wrote
    with SideSession(bind=connection) as session:
        projector.finish_phased_replay(session)
        session.commit()
    return applied


_worker: dict = {}  # in a worker process: its runner, the positions shared for progress, the stop


def _start_worker(runner_factory, positions, stopping) -> None:
    _worker.update(runner=runner_factory(), positions=positions, stopping=stopping)


def _started() -> None:
    """A task that only makes the executor start a worker (`PhaseWorkers`)."""


def _replay_partition(name: str, topics, stop: int, partition: tuple[int, int], batch_size: int) -> int:
    """In a worker process: apply the events of `topics` in (0, `stop`] of the `partition`'s
    streams to the side tables, a transaction a batch; the events applied. The position it has
    reached goes to the shared array, for the parent's progress."""
    runner = _worker["runner"]
    projector = runner.projectors[name]
    part, applied = partition[0], 0
    _worker["positions"][part] = 0
    with runner.recorder.datastore.engine.connect() as connection, cycle_collection_paused():
        connection.execute(text("SET synchronous_commit = off"))  # side tables: thrown away on a crash
        connection.commit()  # else the session would join this transaction, and never commit it
        reader = Reader(runner, batch_size, topics, 0, stop, partition)
        with SideSession(bind=connection) as session, reader as batches:
            for events, end in batches:
                if _worker["stopping"].is_set():
                    raise RuntimeError("stopped: another worker of this phase failed")
                projector.apply(events, session, phased=True)
                session.commit()
                applied += len(events)
                _worker["positions"][part] = end
    return applied
