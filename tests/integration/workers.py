"""Helpers to run real `crm worker` processes and private Redis servers in tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import redis

from crm.projectors import all_projectors
from crm.projectors.engine import tracking
from tests.serving import serve_on_free_port
from tests.smtp_sinks import SinkController


class WorkerProcess:
    """`python -m crm worker` in its own process group (so kill -9 can take the whole group)."""

    def __init__(self, settings, broker_url: str, log_path: Path, **env):
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "CELERY_BROKER_URL": broker_url,
            "LOG_LEVEL": "INFO",
            **{key.upper(): str(value) for key, value in env.items()},
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, concurrency: int = 2, pool: str | None = None) -> WorkerProcess:
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", "crm", "worker", "--concurrency", str(concurrency)]
        self.process = subprocess.Popen(
            command + (["--pool", pool] if pool else []),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill_group(self) -> None:
        """kill -9 the worker and every pool process it forked."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_group()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


class ProjectorProcess:
    """`python -m crm projector` (background projection), logging at DEBUG to a file."""

    def __init__(self, settings, log_path: Path, **env):
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "PROJECTION_MODE": "background",
            "LOG_LEVEL": "DEBUG",
            "PROJECTOR_POLL_SECONDS": "0.1",
            **{key.upper(): str(value) for key, value in env.items()},
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> ProjectorProcess:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crm", "projector"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """kill -9: no chance to release anything; PostgreSQL ends its sessions."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def applied_ranges(self) -> dict[str, list[tuple[int, int]]]:
        """The (start, end] ranges this process committed, per projection, from its DEBUG log."""
        ranges: dict[str, list[tuple[int, int]]] = {}
        for match in re.finditer(r"(\w+) applied \((\d+), (\d+)\]", self.log()):
            ranges.setdefault(match[1], []).append((int(match[2]), int(match[3])))
        return ranges

    def active_for(self) -> set[str]:
        """The projections this process said it became active for."""
        names: set[str] = set()
        for match in re.finditer(r"projector active for ([\w, ]+)", self.log()):
            names |= {name.strip() for name in match[1].split(",")}
        return names


class RedisServer:
    """A private redis-server on a free port, started and stopped by the test; started again, on
    the same port (its clients' URL). It is known to be the one listening there: a redis-server
    that cannot bind exits, and a ping would reach whichever server took the port
    (`serve_on_free_port`)."""

    def __init__(self, workdir: Path):
        self.port: int | None = None
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = self.workdir / "redis.log"
        self.process, self.port = serve_on_free_port(
            self._spawn, _stop, lambda: log.read_text() if log.exists() else "", timeout=10, port=self.port
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return self
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not answer")

    def _spawn(self, port: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            _stop(self.process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


class Loop:
    """Runs `step()` again and again in a daemon thread, from entering a `with` block to leaving it."""

    interval = 0.0  # seconds between steps

    def __init__(self):
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self._thread.join(timeout=30)

    def _run(self):
        while not self.stopping.is_set():
            self.step()
            self.stopping.wait(self.interval)

    def step(self) -> None:
        raise NotImplementedError


class VisitWriter(Loop):
    """Records visits until stopped, so projectors work while things happen to them."""

    interval = 0.005

    def __init__(self, application):
        super().__init__()
        self.application = application
        restaurant_id = application.open_restaurant("Busy Bistro", actor="writer").id
        self.people = [
            application.register_customer(restaurant_id, f"busy{i}@example.com", actor="writer", scope=None).id
            for i in range(5)
        ]
        self.count = 0

    def step(self):
        self.application.record_visit(self.people[self.count % 5], 100, actor="writer", scope=None)
        self.count += 1


PROJECTIONS = {projector.name for projector in all_projectors()}


def positions(container) -> dict[str, int]:
    with container.engine.connect() as conn:
        return tracking.positions(conn)


def caught_up(container) -> bool:
    """Every projection is at the head of the log."""
    head = container.runner.head()
    current = positions(container)
    return all(current.get(name) == head for name in PROJECTIONS)


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s: {message}")


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts, parsed; it refuses (550) the
    recipients in `refused`."""

    def __init__(self):
        self.messages = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink():
    """A loopback SMTP server in this process, independent of the workers: yields its Mailbox
    (with `.port`)."""
    handler = Mailbox()
    controller = SinkController(handler)
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()
