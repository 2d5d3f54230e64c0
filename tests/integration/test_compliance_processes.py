"""Consent and erasure across real processes: `crm serve` (gunicorn) and `crm worker` (Celery)
on PostgreSQL and a private Redis, with SMTP delivery to a loopback aiosmtpd server."""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from crm.adapters.deliveries import simulated_deliveries
from crm.workers.delivery import SimulatedBackend
from tests.integration.workers import WorkerProcess, caught_up, smtp_sink, wait_until
from tests.scenarios import snapshot_tables
from tests.serving import ServerDidNotStart, serve_on_free_port

SENDER = "crm@example.com"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
EVERYONE = {"segment_type": "high_spenders", "segment_value": 0}  # every customer spends >= 0


class ServeProcess:
    """`python -m crm serve` (gunicorn) on a free port, in its own process group, logging to a file."""

    def __init__(self, settings, broker_url: str, log_path: Path, key: str, **env):
        self.port: int | None = None  # chosen by start()
        self.base: str | None = None
        self.key = key
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            # A broker: campaigns go to `crm worker`, none to a worker embedded in the web process.
            "CELERY_BROKER_URL": broker_url,
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "LOG_LEVEL": "INFO",
            **{name.upper(): str(value) for name, value in env.items()},
        }
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def _launch(self, port: int) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "crm", "serve"],
                env={**self.env, "PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @staticmethod
    def _stop(process: subprocess.Popen) -> None:
        process.terminate()  # gunicorn's master stops its workers, then itself
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def start(self) -> ServeProcess:
        try:
            self.process, self.port = serve_on_free_port(self._launch, self._stop, self.log)
        except ServerDidNotStart as error:
            pytest.fail(f"crm serve did not start: {error}")
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"crm serve exited:\n{self.log()}")
            try:
                if request(f"{self.base}/api/openapi.json")[0] == 200:  # a gunicorn worker answers
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"crm serve did not answer within 30 s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._stop(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        status, _, payload = request(f"{self.base}{path}", method, key=self.key, json_body=body)
        return status, json.loads(payload) if payload else None

    def api(self, method: str, path: str, body: dict | None = None) -> dict | None:
        status, answer = self.call(method, path, body)
        assert status < 300, (method, path, status, answer)
        return answer


def request(url: str, method: str = "GET", key: str | None = None, json_body=None, form=None):
    """One HTTP request on a new connection: (status, lower-cased headers, body bytes)."""
    parts = urlsplit(url)
    headers, body = {}, None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if json_body is not None:
        headers["Content-Type"], body = "application/json", json.dumps(json_body)
    if form is not None:
        headers["Content-Type"], body = "application/x-www-form-urlencoded", urlencode(form)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def mailbox():
    with smtp_sink() as handler:
        yield handler


class Processes:
    """The `crm serve` and `crm worker` processes of one test, on its database and broker."""

    def __init__(self, settings, broker_url: str, directory: Path, key: str):
        self.settings, self.broker_url, self.directory, self.key = settings, broker_url, directory, key
        self.started: list[ServeProcess | WorkerProcess] = []

    def _log(self, kind: str) -> Path:
        return self.directory / f"{kind}-{len(self.started)}.log"

    def serve(self, **env) -> ServeProcess:
        served = ServeProcess(self.settings, self.broker_url, self._log("serve"), self.key, **env)
        self.started.append(served)
        return served.start()

    def worker(self, concurrency: int = 2, **env) -> WorkerProcess:
        worker = WorkerProcess(self.settings, self.broker_url, self._log("worker"), **env)
        self.started.append(worker)
        return worker.start(concurrency)

    def stop_all(self) -> None:
        """Workers first, then the web servers (stopping a stopped process does nothing)."""
        for process in sorted(self.started, key=lambda p: isinstance(p, ServeProcess)):
            process.stop()

    def logs(self) -> dict[str, str]:
        return {p.log_path.name: p.log_path.read_text(errors="replace") for p in self.started}


@pytest.fixture
def processes(settings, container, broker, tmp_path):
    running = Processes(settings, broker.url, tmp_path, container.api_keys.issue("compliance-admin", None))
    yield running
    running.stop_all()


def until(predicate, timeout: float, *processes):
    """`wait_until`, failing with the tails of these processes' logs."""
    try:
        return wait_until(predicate, timeout, interval=0.05)
    except AssertionError as error:
        raise AssertionError(f"{error}\n" + "\n".join(p.log() for p in processes)) from None


def start_campaign(served: ServeProcess, restaurant: dict, name: str, template: str = "Hi {first_name}") -> str:
    body = {"restaurant": restaurant["id"], "name": name, "message_template": template, **EVERYONE}
    campaign = served.api("POST", "/api/campaigns/", body)
    status, answer = served.call("POST", f"/api/campaigns/{campaign['id']}/run/")
    assert status == 202, answer
    return campaign["id"]


def completed(served: ServeProcess, campaign_id: str, timeout: float, *processes) -> dict:
    def done():
        campaign = served.api("GET", f"/api/campaigns/{campaign_id}/")
        return campaign if campaign["status"] == "completed" else None

    return until(done, timeout, served, *processes)


def outreach(served: ServeProcess, campaign_id: str, status: str | None = None) -> list[dict]:
    query = "?page_size=200" + (f"&status={status}" if status else "")
    page = served.api("GET", f"/api/campaigns/{campaign_id}/events/{query}")
    assert page["next"] is None, "more records than one page"
    return page["results"]


def one_character_changed(link: str) -> list[str]:
    """The link with one character of its token replaced: in the ids, the MAC, and at both ends."""
    base, token = link.rsplit("/u/", 1)
    dot = token.index(".")
    altered = []
    for position in (0, dot // 2, dot + 1, len(token) - 1):
        replacement = "A" if token[position] != "A" else "B"
        altered.append(f"{base}/u/{token[:position]}{replacement}{token[position + 1 :]}")
    return altered


def test_smtp_one_click_links_unsubscribe_over_http_and_the_next_campaign_leaves_them_out(processes, mailbox):
    served = processes.serve()
    worker = processes.worker(
        delivery_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_from=SENDER,
        public_base_url=served.base,
    )
    restaurant = served.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
    people = {
        f"guest{i}@example.com": served.api(
            "POST",
            "/api/customers/",
            {"restaurant": restaurant["id"], "email": f"guest{i}@example.com", "first_name": f"Guest{i}"},
        )
        for i in range(3)
    }

    first = completed(served, start_campaign(served, restaurant, "First"), 30, worker)
    assert first["stats"]["sent"] == 3, first
    until(lambda: len(mailbox.messages) == 3, 10, worker)

    # Check every message carries both RFC 8058 headers, and the header's link in its body.
    links = {}
    for message in mailbox.messages:
        header = message["List-Unsubscribe"]
        assert re.fullmatch(r"<[^<>\s]+>", header), header
        link = header[1:-1]
        assert link.startswith(f"{served.base}/u/"), link
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = message.get_content()
        assert body.startswith(f"Hi {people[message['To']]['first_name']}"), body
        assert link in body.splitlines()[-1], body  # the footer line
        links[message["To"]] = link
    assert set(links) == set(people) and len(set(links.values())) == 3

    leaver, link = "guest1@example.com", links["guest1@example.com"]
    leaver_path = f"/api/customers/{people[leaver]['id']}/"
    # Check a token with any one character changed gets 404 and changes nothing.
    for altered in one_character_changed(link):
        status, _, _ = request(altered, "POST", form=ONE_CLICK)
        assert status == 404, altered
    for person in people.values():
        assert served.api("GET", f"/api/customers/{person['id']}/")["email_consent"] == "subscribed"
    assert [e["type"] for e in served.api("GET", f"{leaver_path}history/")["events"]] == ["Registered"]

    # Check the mail client's one-click POST, as a provider sends it: no cookie, login or CSRF token.
    status, headers, page = request(link, "POST", form=ONE_CLICK)
    assert status == 200, page
    assert "set-cookie" not in headers
    assert b"You are unsubscribed" in page
    assert served.api("GET", leaver_path)["email_consent"] == "unsubscribed"

    second_id = start_campaign(served, restaurant, "Second")
    second = completed(served, second_id, 30, worker)
    assert second["stats"] == {
        "audience": 2,
        "excluded_unsubscribed": 1,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 0,
    }
    assert {r["customer"] for r in outreach(served, second_id)} == {
        p["id"] for email, p in people.items() if email != leaver
    }
    until(lambda: len(mailbox.messages) >= 5, 10, worker)
    assert sorted(m["To"] for m in mailbox.messages[3:]) == ["guest0@example.com", "guest2@example.com"]


def test_unsubscribing_during_a_running_campaign_skips_the_unsent_recipient(application, container, processes):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customers = [
        application.register_customer(restaurant_id, f"c{i}@example.com", f"C{i}", actor="a", scope=None)
        for i in range(100)
    ]
    last = max(customers)  # one batch, sent in customer-id order: the last to be sent
    served = processes.serve()
    worker = processes.worker(concurrency=1, delivery_backend="simulated", simulated_latency_ms=20)
    backend = SimulatedBackend(container.engine)

    campaign_id = start_campaign(served, {"id": str(restaurant_id)}, "Win back")
    until(lambda: backend.report()["messages"] >= 10, 30, worker)
    changed = served.api("POST", f"/api/customers/{last}/unsubscribe/")
    assert changed["email_consent"] == "unsubscribed"
    sent_by_then = backend.report()["messages"]
    assert sent_by_then < 100, "the campaign finished before the unsubscribe: the test proves nothing"

    campaign = completed(served, campaign_id, 30, worker)
    assert campaign["stats"] == {
        "audience": 100,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 99,
        "failed": 0,
        "skipped": 1,
    }, f"unsubscribed after {sent_by_then} sends"
    [skipped] = outreach(served, campaign_id, "skipped")
    assert (skipped["customer"], skipped["error_message"]) == (str(last), "unsubscribed")
    # Check the simulated provider delivered once to everyone else and never to them.
    assert backend.report() == {
        "messages": 99,
        "attempts": 99,
        "repeated_attempts": 0,
        "delivered": 99,
        "duplicate_deliveries": 0,
    }
    with container.engine.connect() as conn:
        reached = conn.execute(select(simulated_deliveries.c.customer_id)).scalars().all()
    assert sorted(reached) == sorted(c for c in customers if c != last)


def test_two_campaigns_started_together_under_a_cap_of_one_reach_each_customer_once(application, container, processes):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin", frequency_cap=(1, 7))
    customers = {
        application.register_customer(restaurant_id, f"c{i}@example.com", f"C{i}", actor="a", scope=None)
        for i in range(200)
    }
    served = processes.serve()
    # Two worker processes: the campaigns' batches are sent at the same time.
    workers = [processes.worker(concurrency=1, delivery_backend="simulated", simulated_latency_ms=2) for _ in range(2)]
    backend = SimulatedBackend(container.engine)

    first = start_campaign(served, {"id": str(restaurant_id)}, "First")
    second = start_campaign(served, {"id": str(restaurant_id)}, "Second")
    done = [completed(served, campaign_id, 60, *workers) for campaign_id in (first, second)]

    assert sum(c["stats"]["sent"] for c in done) == 200
    assert sum(c["stats"]["skipped"] for c in done) == 200
    assert all(c["stats"]["sent"] > 0 for c in done), "the campaigns did not send at the same time"
    outcomes: dict[str, list] = {}
    for campaign_id in (first, second):
        for record in outreach(served, campaign_id):
            outcomes.setdefault(record["customer"], []).append((record["status"], record["error_message"]))
    assert set(outcomes) == {str(c) for c in customers}
    assert {tuple(sorted(pair)) for pair in outcomes.values()} == {(("sent", None), ("skipped", "frequency_capped"))}
    # Check the provider reached each customer exactly once in all.
    with container.engine.connect() as conn:
        reached = conn.execute(select(simulated_deliveries.c.customer_id)).scalars().all()
    assert sorted(reached) == sorted(customers)
    assert backend.report()["duplicate_deliveries"] == 0


# -- erasure ----------------------------------------------------------------------------


def pg_dump(database_url: str) -> str:
    """`pg_dump` of the whole database, with every bytea value (the event states) decoded too."""
    url = make_url(database_url)
    command = ["pg_dump", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    result = subprocess.run([*command, url.database], env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    dump = result.stdout.decode("utf-8", errors="replace")
    decoded = [
        bytes.fromhex(digits[: len(digits) // 2 * 2]).decode("utf-8", errors="replace")
        for digits in re.findall(r"\\x([0-9a-fA-F]+)", dump)
    ]
    assert decoded, "no bytea values in the dump: the event store is missing"
    return "\n".join([dump, *decoded])


def redis_contents(url: str) -> str:
    """Every key and value of the Redis database, with the base64 bodies of Celery messages decoded."""
    client = redis.Redis.from_url(url)
    parts: list[bytes] = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "list":
            parts.extend(client.lrange(key, 0, -1))
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                parts.extend((field, value))
        elif kind == "set":
            parts.extend(client.smembers(key))
        elif kind == "zset":
            parts.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == "stream":
            for entry_id, fields in client.xrange(key):
                parts.append(entry_id)
                for field, value in fields.items():
                    parts.extend((field, value))
        elif kind != "none":  # gone since the scan
            raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
    client.close()
    texts = [part.decode("utf-8", errors="replace") for part in parts]
    return "\n".join(texts + [body for t in texts for body in _message_bodies(t)])


class BrokerMonitor:
    """`redis-cli monitor` on the broker: every command any process sends it, to a file, with
    the base64 bodies of the Celery messages they publish decoded."""

    def __init__(self, port: int, path: Path):
        self.port = port
        self.path = path
        self.process: subprocess.Popen | None = None

    def start(self) -> BrokerMonitor:
        with open(self.path, "wb") as out:
            self.process = subprocess.Popen(["redis-cli", "-p", str(self.port), "monitor"], stdout=out)
        wait_until(lambda: self.path.read_bytes().startswith(b"OK"), 10, interval=0.02, message="monitor")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def text(self) -> str:
        seen = self.path.read_text(errors="replace")
        bodies = re.findall(r'\\"body\\": \\"([A-Za-z0-9+/=]+)\\"', seen)
        return "\n".join([seen, *(base64.b64decode(body).decode("utf-8", errors="replace") for body in bodies)])


@pytest.fixture
def monitor(broker, tmp_path):
    watching = BrokerMonitor(broker.port, tmp_path / "redis-monitor.log").start()
    yield watching
    watching.stop()


def _message_bodies(value: str) -> list[str]:
    try:
        found = [json.loads(value)]
    except ValueError:
        return []
    bodies = []
    while found:
        item = found.pop()
        if isinstance(item, list):
            found.extend(item)
        elif isinstance(item, dict):
            found.extend(item.values())
            if item.get("properties", {}).get("body_encoding") == "base64" and isinstance(item.get("body"), str):
                try:
                    bodies.append(base64.b64decode(item["body"]).decode("utf-8", errors="replace"))
                except (binascii.Error, ValueError):
                    bodies.append(item["body"])
    return bodies


def traces(haystack: str, needles: list[str]) -> list[str]:
    lowered = haystack.lower()
    return [needle for needle in needles if needle.lower() in lowered]


def test_erasure_leaves_no_trace_in_the_database_redis_or_logs(settings, container, broker, monitor, processes):
    marker = uuid.uuid4().hex[:10]
    email = f"Xanthippe.Quorvald-{marker}@example.org"
    needles = [email, "Xanthippe", "Quorvald", marker]
    served = processes.serve()
    worker = processes.worker()  # console delivery
    restaurant = served.api("POST", "/api/restaurants/", {"name": "Pizza Palace"})
    person = served.api(
        "POST",
        "/api/customers/",
        {"restaurant": restaurant["id"], "email": email, "first_name": "Xanthippe", "last_name": "Quorvald"},
    )
    served.api("POST", "/api/customers/", {"restaurant": restaurant["id"], "email": "bystander@example.com"})
    path = f"/api/customers/{person['id']}/"
    served.api("POST", f"{path}add_visit/", {"spend_cents": 4_321})
    campaign_id = start_campaign(served, restaurant, "Win back", "Hi {first_name} {last_name}")
    assert completed(served, campaign_id, 30, worker)["stats"]["sent"] == 2
    # Check the searches would find the person while they are held (the read model has them).
    assert traces(pg_dump(settings.database_url), needles) == needles

    assert served.call("POST", f"{path}erase/") == (204, None)

    assert served.call("GET", path)[0] == 404
    registered = served.api("GET", f"{path}history/")["events"][0]["data"]
    assert (registered["email"], registered["first_name"], registered["last_name"]) == ("[erased]",) * 3
    # Check a rebuild from the log gives the read tables the live projections built.
    until(lambda: caught_up(container), 10, served, worker)
    live = snapshot_tables(container)
    rebuild = subprocess.run(
        [sys.executable, "-m", "crm", "projections", "rebuild"],
        env={**os.environ, "DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rebuild.returncode == 0, rebuild.stderr
    assert snapshot_tables(container) == live
    processes.stop_all()  # every log complete

    # Check nothing anywhere still names the person: database, broker, or any process's output.
    assert traces(pg_dump(settings.database_url), needles) == []
    contents = redis_contents(broker.url)
    assert "_kombu.binding" in contents  # the broker the processes used
    assert traces(contents, needles) == []
    # Check nothing sent to the broker meanwhile named them either (its messages are gone now).
    monitor.stop()
    published = monitor.text()
    assert "crm.send_batch" in published and f'[["{campaign_id}",' in published  # a task, decoded
    assert traces(published, needles) == []
    logs = {**processes.logs(), "rebuild": rebuild.stdout + rebuild.stderr}
    assert all(logs.values())
    assert {name: traces(log, needles) for name, log in logs.items()} == {name: [] for name in logs}
