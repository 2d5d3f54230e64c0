"""What a rebuild's replay is made of: a session that writes to the side tables, and a reader
thread that reads and decodes ahead (the garbage collector is held off meanwhile: `crm.cyclic_gc`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable

from sqlalchemy.orm import Session

from crm.projectors.engine.runner import ProjectionRunner

SIDE = "crm_rebuild"  # the side schema (PostgreSQL) or attached database (SQLite)


class SideSession(Session):
    """A session whose statements address the side tables (the projectors' own SQL, unchanged)."""

    def __init__(self, **kwargs):
        super().__init__(info={"schema": SIDE}, **kwargs)  # for COPY, which SQLAlchemy does not translate

    def execute(self, statement, params=None, *, execution_options=None, **kwargs):
        options = {**(execution_options or {}), "schema_translate_map": {None: SIDE}}
        return super().execute(statement, params, execution_options=options, **kwargs)


class Reader:
    """Reads and decodes batches of events of `topics` with ids in (start, stop] in a thread, a
    couple ahead of the writer (`partition`: (k, n), only the k-th of n sets of streams)."""

    def __init__(
        self,
        runner: ProjectionRunner,
        batch_size: int,
        topics: Iterable[str],
        start: int,
        stop: int,
        partition: tuple[int, int] | None = None,
    ):
        self.runner = runner
        self.batch_size = batch_size
        self.topics = tuple(sorted(topics))
        self.partition = partition
        self.start, self.stop = start, stop
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rebuild-reader", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        while self.thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                self.queue.get(timeout=0.1)
            except queue.Empty:
                pass

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _run(self) -> None:
        position = self.start
        try:
            while position < self.stop and not self.stopping.is_set():
                recorder = self.runner.recorder
                notifications, end = recorder.read_window(
                    position, self.stop, self.batch_size, self.topics, self.partition
                )
                self._put((self.runner.decode(notifications), end))
                position = end
            self._put(None)
        except BaseException as error:  # handed to the writer, which raises it
            self._put(error)

    def _put(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
