"""Fuzz the API against its own OpenAPI document: schemathesis, every check, stateful phase
included, against a real `crm serve` started here (then stopped, its files removed).

    python tools/fuzz.py [SCHEMATHESIS RUN OPTIONS...]     e.g. --seed 1 -n 30, or --max-time 600

The server uses DATABASE_URL if it is set (an empty PostgreSQL database), else a temporary
SQLite file; it runs without a broker (the campaign worker in its process) and without a rate
limit. Before the run it opens a restaurant with one customer, whose ids schemathesis.toml gives
to the bodies that must name existing ones (CRM_FUZZ_RESTAURANT, CRM_FUZZ_CUSTOMER). The exit
status is schemathesis's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def crm(env: dict, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "crm", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"crm {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.strip()


def call(base: str, key: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("crm serve did not start:\n" + log.read_text())
            time.sleep(0.2)


def main(arguments: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out, too
    with tempfile.TemporaryDirectory(prefix="crm-fuzz-") as directory:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{directory}/crm.sqlite3",
            "SECRET_KEY": "fuzz-secret",
            "LOG_LEVEL": "WARNING",
            "CELERY_BROKER_URL": "",
            "REDIS_URL": "",
            "RATE_LIMIT": "off",
            "DELIVERY_BACKEND": "simulated",
            "PROMETHEUS_MULTIPROC_DIR": f"{directory}/metrics",
        }
        crm(env, "migrate")
        key = crm(env, "apikey", "create", "--admin", "--name", "fuzz")
        log = Path(directory) / "serve.log"
        with open(log, "w") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "crm", "serve", "--port", str(port)],
                env=env,
                stdout=output,
                stderr=output,
                start_new_session=True,  # its own process group: stopped with its workers
            )
        try:
            wait_until_up(base, server, log)
            restaurant = call(base, key, "/api/restaurants/", {"name": "Fuzz"})
            customer = call(base, key, "/api/customers/", {"restaurant": restaurant["id"], "email": "fuzz@example.com"})
            run = [
                str(SCHEMATHESIS),
                "--config-file",
                str(ROOT / "schemathesis.toml"),
                "run",
                f"{base}/api/openapi.json",
                "--checks",
                "all",
                "--header",
                f"Authorization: Bearer {key}",
                *arguments,
            ]
            fuzzing = {**os.environ, "CRM_FUZZ_RESTAURANT": restaurant["id"], "CRM_FUZZ_CUSTOMER": customer["id"]}
            status = subprocess.run(run, env=fuzzing, cwd=ROOT).returncode
            if server.poll() is not None:
                print("crm serve stopped during the run:\n" + log.read_text(), file=sys.stderr)
                return status or 1
            return status
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
