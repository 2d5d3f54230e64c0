"""Under gunicorn with several worker processes, a scrape of any of them counts every request."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import time

from tests.serving import crm_serve, serve_on_free_port, terminate


def get(port: int, path: str, key: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"} if key else {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_a_scrape_adds_up_the_requests_of_every_worker_process(settings, container, tmp_path):
    key = container.api_keys.issue("metrics-walk", None)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "WEB_CONCURRENCY": "3",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log_path = tmp_path / "serve.log"

    def stop(process: subprocess.Popen) -> None:
        assert terminate(process, 30), "crm serve did not stop within 30 s of SIGTERM"

    serve, port = serve_on_free_port(crm_serve(env, log_path), stop, lambda: log_path.read_text(errors="replace"))
    try:
        # New connections, until a second worker has answered: gunicorn spreads them over the
        # workers that are up, and on a busy machine the first one up can take the first dozens.
        sent, deadline = 0, time.monotonic() + 60
        while True:
            for _ in range(10):
                assert get(port, "/api/restaurants/", key)[0] == 200
            sent += 10
            pids = {p.stem.rpartition("_")[2] for p in (tmp_path / "metrics").glob("*.db")}
            if len(pids) >= 2 and sent >= 30:
                break
            assert time.monotonic() < deadline, f"one worker answered everything: {pids}"
        for _ in range(5):  # whichever worker answers the scrape, it counts all of them
            status, text = get(port, "/metrics")
            assert status == 200
            counted = re.search(
                r'crm_http_request_duration_seconds_count\{method="GET",route="/api/restaurants/",status="200"\} (\S+)',
                text,
            )
            assert counted and float(counted.group(1)) == sent, text[:2000]
    finally:
        stop(serve)
