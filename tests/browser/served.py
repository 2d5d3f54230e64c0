"""A real `crm serve` (gunicorn, embedded worker) on a temporary SQLite database, and a browser for it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.serving import ServerDidNotStart, crm_serve, serve_on_free_port, terminate

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OPERATOR = ("ops@example.com", "correct horse battery")  # the operator the browser tests create


def fill_login(page, email: str = OPERATOR[0], password: str = OPERATOR[1]) -> None:
    """Fill the login form on the page the browser is at, and submit it."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def require_browser():
    """Playwright's sync API, or a skip (a failure when CRM_REQUIRE_BROWSER is set, as in CI)."""
    problem = None
    if not os.path.exists(CHROMIUM):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CRM_REQUIRE_BROWSER"):
            pytest.fail(f"CRM_REQUIRE_BROWSER is set but {problem}")
        pytest.skip(problem)
    return sync_playwright


class Served:
    """`crm` commands and a `crm serve` process sharing one environment and database."""

    def __init__(self, directory: Path, **settings: str):
        self.directory = directory
        self.port: int | None = None  # chosen by start()
        self.base: str | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{directory / 'crm.sqlite3'}",
            "SECRET_KEY": "browser-test-secret",
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            # No broker: `crm serve` runs the campaign worker in its own process.
            "CELERY_BROKER_URL": "",
            "REDIS_URL": "",
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.key: str | None = None

    def crm(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "crm", *args], env=self.env, cwd=self.directory, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def add_operator(self, email: str = OPERATOR[0], password: str = OPERATOR[1]) -> None:
        self.crm("operator", "create", email, "--password", password)

    def start(self) -> Served:
        self.crm("migrate")
        self.key = self.crm("apikey", "create", "--admin", "--name", "seeder")
        log_path = self.directory / "serve.log"
        start = crm_serve(self.env, log_path, cwd=self.directory)
        try:
            self.process, self.port = serve_on_free_port(start, terminate, lambda: log_path.read_text(errors="replace"))
        except ServerDidNotStart as error:
            pytest.fail(f"crm serve did not start: {error}")
        self.base = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read() or b"null")
        assert response.status < 300, (method, path, response.status, payload)
        return payload

    def upload(self, restaurant: dict, kind: str, content: bytes, filename: str = "rows.csv") -> dict:
        """POST /api/imports/ (multipart/form-data): start importing a CSV file; the import."""
        boundary = uuid.uuid4().hex
        fields = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in (("restaurant", restaurant["id"]), ("kind", kind))
        ]
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        body = b"".join(fields) + head + content + f"\r\n--{boundary}--\r\n".encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
        conn.request("POST", "/api/imports/", body=body, headers=headers)
        response = conn.getresponse()
        payload = json.loads(response.read() or b"null")
        assert response.status == 202, (response.status, payload)
        return payload
