"""Helpers for the database restart tests: the `crm` processes of a test, the API's answers
through an outage, a writer that counts each visit once, and a slow SMTP sink."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlsplit

from crm import bootstrap
from crm.config import Settings
from tests.integration.test_compliance_processes import ServeProcess
from tests.integration.workers import ProjectorProcess, WorkerProcess, wait_until
from tests.scenarios import snapshot_tables

# -- the processes ----------------------------------------------------------------------


class Stack:
    """The `crm` processes of one test, on its private database and broker."""

    def __init__(self, settings: Settings, broker_url: str, directory: Path, key: str):
        self.settings, self.broker_url, self.directory, self.key = settings, broker_url, directory, key
        self.started: list[ServeProcess | ProjectorProcess | WorkerProcess] = []

    def serve(self, **env) -> ServeProcess:
        served = ServeProcess(self.settings, self.broker_url, self.directory / "serve.log", self.key, **env)
        self.started.append(served)
        return served.start()

    def projector(self) -> ProjectorProcess:
        process = ProjectorProcess(self.settings, self.directory / "projector.log", celery_broker_url=self.broker_url)
        self.started.append(process)
        return process.start()

    def worker(self, **env) -> WorkerProcess:
        process = WorkerProcess(self.settings, self.broker_url, self.directory / "worker.log", **env)
        self.started.append(process)
        return process.start(concurrency=2)

    def exited(self) -> list[str]:
        return [p.log_path.name for p in self.started if p.process.poll() is not None]

    def stop(self) -> None:
        for process in reversed(self.started):  # workers and projector before the web server
            process.stop()

    def logs(self) -> dict[str, str]:
        return {p.log_path.name: p.log_path.read_text(errors="replace") for p in self.started}

    def tails(self) -> str:
        return "\n".join(f"--- {name}\n{log[-3000:]}" for name, log in self.logs().items())


def until(predicate, timeout: float, stack: Stack, message: str = ""):
    """`wait_until`, failing with the tails of every process's log."""
    try:
        return wait_until(predicate, timeout, interval=0.05, message=message)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.tails()}") from None


# -- talking to the API through the outage ------------------------------------------------


class Answers:
    """Every answer the API gave, with the state of the database when it was asked."""

    def __init__(self):
        self.phase = "up"  # then "down", then "back"
        self._seen: list[tuple[str, int, dict, bytes]] = []
        self._lock = threading.Lock()

    def note(self, phase: str, status: int, headers: dict, body: bytes) -> None:
        with self._lock:
            self._seen.append((phase, status, headers, body))

    def count(self, phase: str, status: int) -> int:
        with self._lock:
            return sum(1 for p, s, _, _ in self._seen if (p, s) == (phase, status))

    def statuses(self) -> Counter:
        with self._lock:
            return Counter(status for _, status, _, _ in self._seen)

    def unavailable(self) -> list[tuple[dict, bytes]]:
        with self._lock:
            return [(headers, body) for _, status, headers, body in self._seen if status == 503]


def ask(served: ServeProcess, answers: Answers, method: str, path: str, body=None, headers=None):
    """One request on a new connection, its answer noted: (status, parsed JSON body or None)."""
    phase = answers.phase
    sent = {"Authorization": f"Bearer {served.key}", **(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(served.base).port, timeout=15)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
        response = conn.getresponse()
        status, got, payload = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except OSError as error:
        status, got, payload = -1, {}, repr(error).encode()
    finally:
        conn.close()
    answers.note(phase, status, got, payload)
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, None


def answered(served: ServeProcess, answers: Answers, method: str, path: str, body=None, headers=None):
    """The JSON of a success; None after a 503 (a process may still hold a connection from before
    the restart: it answers 503 once and drops them all), to ask again; any other answer fails."""
    status, answer = ask(served, answers, method, path, body, headers)
    if status == 503:
        return None
    assert status < 300, (method, path, status, answer)
    return answer or {}


def probe_while_down(served: ServeProcess, answers: Answers, reads: list[str], writes: list[tuple[str, dict]]):
    """Ask each read and write once; True if every one was answered 503."""
    statuses = [ask(served, answers, "GET", path)[0] for path in reads]
    statuses += [ask(served, answers, "POST", path, body)[0] for path, body in writes]
    return all(status == 503 for status in statuses)


def assert_every_503_said_when_to_retry(answers: Answers) -> None:
    unavailable = answers.unavailable()
    assert unavailable, "no 503 while the database was down"
    for headers, body in unavailable:
        assert headers.get("retry-after") == "1", headers
        assert headers.get("content-type", "").startswith("application/json"), headers
        assert json.loads(body)["message"], body


class VisitPoster(threading.Thread):
    """Records visits over HTTP, round robin over some customers, each under its own
    Idempotency-Key, sent again after a 503 until answered 201: each visit counts exactly once
    however the outage falls (a 503 may come after its command committed)."""

    def __init__(self, served: ServeProcess, answers: Answers, customer_ids: list[str]):
        super().__init__(daemon=True)
        self.served, self.answers, self.customer_ids = served, answers, customer_ids
        self.visits: Counter = Counter()
        self.spend: Counter = Counter()
        self.stop = threading.Event()
        self.gave_up: list = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            customer, spend = self.customer_ids[n % len(self.customer_ids)], 100 + n % 7
            if not self._record(customer, spend, uuid.uuid4().hex):
                return
            self.visits[customer] += 1
            self.spend[customer] += spend
            n += 1

    def _record(self, customer: str, spend: int, key: str) -> bool:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, answer = ask(
                self.served,
                self.answers,
                "POST",
                f"/api/customers/{customer}/add_visit/",
                {"spend_cents": spend},
                {"Idempotency-Key": key},
            )
            if status == 201:
                return True
            if status != 503:
                self.gave_up.append((status, answer))
                return False
            time.sleep(0.05)
        self.gave_up.append("no 201 within 90 s")
        return False


# -- the read tables -----------------------------------------------------------------------


def rebuilt_equals_live(settings: Settings) -> None:
    """`crm projections rebuild` (a process of its own) leaves every read table as it was."""
    container = bootstrap.build(settings)
    try:
        live = snapshot_tables(container)
        rebuilt = subprocess.run(
            [sys.executable, "-m", "crm", "projections", "rebuild"],
            env={**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
        assert snapshot_tables(container) == live
    finally:
        container.close()


def assert_no_tracebacks(stack: Stack) -> None:
    """An outage is expected: each process says so in a warning line, without a traceback."""
    for name, log in stack.logs().items():
        assert "Traceback" not in log, f"{name}:\n{log[log.index('Traceback') - 2000 :][:6000]}"


class SlowMailbox:
    """An SMTP sink (aiosmtpd, in this process) that takes `delay` seconds per message and keeps
    each one's recipient and Message-ID (the outreach id: the delivery's idempotency key)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        self.received.append((headers["To"], headers["Message-ID"]))
        return "250 Message accepted for delivery"
