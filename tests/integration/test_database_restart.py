"""The database restarts under load: the API answers 503 with Retry-After while it is down (never
a 500), every process recovers by itself, and the read tables still equal a fresh rebuild."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from crm import bootstrap
from crm.config import Settings
from tests.scenarios import snapshot_tables
from tests.serving import crm_serve, serve_on_free_port, terminate


def post(port: int, path: str, key: str, body: dict) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(
            "POST", path, json.dumps(body), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def wait_until(predicate, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


class Writer(threading.Thread):
    """Registers customers one after another, noting each answer and whether the database was up."""

    def __init__(self, port: int, key: str, restaurant: str):
        super().__init__(daemon=True)
        self.port, self.key, self.restaurant = port, key, restaurant
        self.answers: list[tuple[str, int, str | None]] = []
        self.phase = "up"
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            body = {"restaurant": self.restaurant, "email": f"{uuid.uuid4().hex}@example.com"}
            phase = self.phase
            try:
                status, retry_after = post(self.port, "/api/customers/", self.key, body)
            except OSError:
                status, retry_after = -1, None
            self.answers.append((phase, status, retry_after))

    def count(self, phase: str, status: int) -> int:
        return sum(1 for p, s, _ in self.answers if (p, s) == (phase, status))


def test_writes_get_503_while_the_database_is_down_and_recover_by_themselves(private_pg, tmp_path):
    settings = Settings(database_url=private_pg.create_database("crm"), secret_key="restart-secret")
    bootstrap.migrate(settings)
    container = bootstrap.build(settings)
    key = container.api_keys.issue("restart", None)
    restaurant = str(container.application.open_restaurant("Pizza Palace", actor="admin").id)
    container.close()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "WEB_CONCURRENCY": "2",
        "RATE_LIMIT": "off",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
    }
    log_path = tmp_path / "serve.log"

    def stop(process: subprocess.Popen) -> None:
        assert terminate(process, 30), "crm serve did not stop within 30 s of SIGTERM"

    start = crm_serve(env, log_path, start_new_session=True)
    serve, port = serve_on_free_port(start, stop, lambda: log_path.read_text(errors="replace"))
    writer = Writer(port, key, restaurant)
    try:
        writer.start()
        wait_until(lambda: writer.count("up", 201) >= 20, 30, "no writes before the restart")

        private_pg.stop()
        writer.phase = "down"
        wait_until(lambda: writer.count("down", 503) >= 5, 15, f"no 503 while down: {writer.answers[-5:]}")
        private_pg.start()
        writer.phase = "back"
        wait_until(lambda: writer.count("back", 201) >= 20, 30, f"no recovery: {writer.answers[-5:]}")
    finally:
        writer.stop.set()
        writer.join(timeout=20)
        stop(serve)

    statuses = {status for _, status, _ in writer.answers}
    server_log = (tmp_path / "serve.log").read_text(errors="replace")
    assert statuses <= {201, 503}, (statuses, server_log[-3000:])
    # Check every 503 said when to retry, and the first answers after the restart recovered.
    assert all(retry == "1" for _, status, retry in writer.answers if status == 503)
    assert [status for phase, status, _ in writer.answers if phase == "back"][-10:] == [201] * 10
    assert "Traceback" not in server_log, server_log[-3000:]
    # Check nothing was applied twice or lost: the live tables equal a fresh rebuild, and every
    # 201 is one customer (a 503 may have come after its command committed).
    container = bootstrap.build(settings)
    try:
        live = snapshot_tables(container)
        created = sum(1 for _, status, _ in writer.answers if status == 201)
        assert created <= len(live["customers"]) <= created + writer.count("down", 503) + writer.count("back", 503)
        rebuilt = subprocess.run(
            [sys.executable, "-m", "crm", "projections", "rebuild"], env=env, capture_output=True, timeout=120
        )
        assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
        assert snapshot_tables(container) == live
    finally:
        container.close()
