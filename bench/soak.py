"""`make soak`: a long mixed load at half of the measured capacity against the full stack, with
memory, errors and latency sampled each minute, written into docs/reliability.md.

    python bench/soak.py                     # 30 minutes, background setup (about 32 min)
    python bench/soak.py --minutes 5 --setup inline

The stack is the docker-compose one on a fresh PostgreSQL database with Redis: `crm serve`,
`crm projector` (background setup) and `crm worker -c 2`, console delivery. Steps:
1. seed customers with a visit each (8 clients);
2. capacity: 20 s of the mixed load at 8 clients, as fast as it goes;
3. the soak: the same mix, open loop at half that rate (requests are started on a schedule,
   whatever the answers take), plus a campaign to every customer every 5 minutes.
The mix: add_visit 55%, register a customer 10%, a customer 10%, the inactive and the
high-spender segments' first pages 10% each, the campaign list 5%. Each minute: requests done,
how many started requests wait for a sender (behind schedule: the stack, or the machine, cannot
keep the rate), errors (5xx or no answer; 4xx other than the expected are counted apart), p50
and p99 latency (from the request's start, not its scheduled time), RSS of each process group
(summed over its processes), whether /readyz says ready, and the machine's load average.
The section between the `make soak` markers of docs/reliability.md is replaced.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, _rss_mb, _tree, stack  # noqa: E402  (bench/ is a directory of scripts)

BEGIN, END = "<!-- make soak: begin -->", "<!-- make soak: end -->"
MIX = (
    ("add_visit", 55),
    ("register", 10),
    ("customer", 10),
    ("inactive", 10),
    ("high_spenders", 10),
    ("campaigns", 5),
)


class Client:
    """One keep-alive connection; `call` answers (status, seconds), status 0 when nothing came back."""

    def __init__(self, port: int, key: str):
        self.port, self.key, self.conn = port, key, None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, float, dict | None]:
        started = time.perf_counter()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn = None
            return 0, time.perf_counter() - started, None
        try:
            data = json.loads(payload) if payload else None
        except ValueError:
            data = None
        return status, time.perf_counter() - started, data


class Mix:
    """The requests of the mix, on a shared set of customers (ids grow as customers register)."""

    def __init__(self, restaurant: str, customers: list[str]):
        self.restaurant = restaurant
        self.customers = customers
        self.lock = threading.Lock()
        self.serial = 0
        self.choices = [name for name, weight in MIX for _ in range(weight)]

    def one(self, client: Client) -> tuple[str, int, float]:
        kind = random.choice(self.choices)
        if kind == "add_visit":
            body = {"spend_cents": random.randint(500, 9000)}
            status, seconds, _ = client.call("POST", f"/api/customers/{random.choice(self.customers)}/add_visit/", body)
            return kind, status, seconds
        if kind == "register":
            with self.lock:
                self.serial += 1
                email = f"soak-{os.getpid()}-{self.serial}@example.com"
            body = {"restaurant": self.restaurant, "email": email, "first_name": "Soak"}
            status, seconds, data = client.call("POST", "/api/customers/", body)
            if status == 201 and data:
                with self.lock:
                    self.customers.append(data["id"])
            return kind, status, seconds
        path = {
            "customer": f"/api/customers/{random.choice(self.customers)}/",
            "inactive": f"/api/customers/inactive/?days=30&restaurant_id={self.restaurant}",
            "high_spenders": f"/api/customers/high_spenders/?min_spend_cents=5000&restaurant_id={self.restaurant}",
            "campaigns": "/api/campaigns/",
        }[kind]
        status, seconds, _ = client.call("GET", path)
        return kind, status, seconds


class Minute:
    """What one minute saw."""

    def __init__(self):
        self.latencies: list[float] = []
        self.errors = 0
        self.unexpected_4xx = 0
        self.lock = threading.Lock()

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if status == 0 or status >= 500:
                self.errors += 1
            elif status >= 400:
                self.unexpected_4xx += 1


def seed(port: int, key: str, count: int) -> tuple[str, list[str]]:
    client = Client(port, key)
    status, _, restaurant = client.call("POST", "/api/restaurants/", {"name": "Soak Diner", "timezone": "UTC"})
    assert status == 201, status
    ids: list[str] = []
    lock = threading.Lock()

    def register(start: int) -> None:
        mine = Client(port, key)
        for n in range(start, count, 8):
            body = {"restaurant": restaurant["id"], "email": f"seed{n}@example.com", "first_name": f"Guest{n}"}
            status, _, data = mine.call("POST", "/api/customers/", body)
            if status == 201:
                mine.call("POST", f"/api/customers/{data['id']}/add_visit/", {"spend_cents": 100 * (n % 120)})
                with lock:
                    ids.append(data["id"])

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return restaurant["id"], ids


def capacity(port: int, key: str, mix: Mix, seconds: float = 20.0) -> float:
    """Requests/s of the mix at 8 closed-loop clients."""
    done = [0] * 8
    deadline = time.monotonic() + seconds

    def drive(n: int) -> None:
        client = Client(port, key)
        while time.monotonic() < deadline:
            mix.one(client)
            done[n] += 1

    threads = [threading.Thread(target=drive, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def _group_rss(roots: list[int]) -> int:
    return round(sum(_rss_mb(pid) for root in roots for pid in _tree(root)))


def readiness(port: int) -> dict:
    client = Client(port, "")
    status, _, data = client.call("GET", "/readyz")
    return {**(data or {}), "http_status": status}


def soak(port: int, key: str, mix: Mix, rate: float, minutes: int, groups: dict[str, list[int]]) -> list[dict]:
    """The open-loop load: `rate` requests/s started on schedule by a pool of 32 senders."""
    work: queue.Queue = queue.Queue()
    current = Minute()
    stopping = threading.Event()

    def sender() -> None:
        client = Client(port, key)
        while True:
            item = work.get()
            if item is None:
                return
            kind, status, seconds = mix.one(client)
            current.add(kind, status, seconds)

    senders = [threading.Thread(target=sender, daemon=True) for _ in range(32)]
    for thread in senders:
        thread.start()
    samples = []
    start = time.monotonic()
    next_campaign = start
    admin = Client(port, key)
    campaigns: list[str] = []
    for minute in range(minutes):
        minute_end = start + 60 * (minute + 1)
        interval = 1.0 / rate
        due = time.monotonic()
        while due < minute_end and not stopping.is_set():
            if due >= next_campaign:
                body = {
                    "restaurant": mix.restaurant,
                    "name": f"Soak {len(campaigns) + 1}",
                    "segment_type": "high_spenders",
                    "segment_value": 0,
                    "message_template": "Hi {first_name}",
                }
                status, _, data = admin.call("POST", "/api/campaigns/", body)
                if status == 201:
                    admin.call("POST", f"/api/campaigns/{data['id']}/run/")
                    campaigns.append(data["id"])
                next_campaign += 300
            work.put(1)
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        done, current = current, Minute()
        latencies = sorted(done.latencies)
        rss = {name: _group_rss(roots) for name, roots in groups.items()}
        ready = readiness(port)
        sample = {
            "minute": minute + 1,
            "requests": len(latencies),
            "backlog": work.qsize(),
            "errors": done.errors,
            "unexpected_4xx": done.unexpected_4xx,
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
            "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
            "rss_mb": rss,
            "ready": ready["http_status"] == 200,
            "load_1m": round(os.getloadavg()[0], 1),  # the machine is shared: what else ran shows here
        }
        if not sample["ready"]:
            checks = ready.get("checks", {})
            sample["not_ready"] = {name: check for name, check in checks.items() if not check.get("ok")}
        samples.append(sample)
        print(json.dumps(sample), file=sys.stderr, flush=True)
    dropped = 0  # scheduled but never started: the schedule was not kept
    while True:
        try:
            work.get_nowait()
        except queue.Empty:
            break
        dropped += 1
    for _ in senders:
        work.put(None)
    for thread in senders:
        thread.join(60)
    finished = 0
    for campaign_id in campaigns:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _, _, data = admin.call("GET", f"/api/campaigns/{campaign_id}/")
            if data and data.get("status") == "completed":
                finished += 1
                break
            time.sleep(1)
    samples.append({"campaigns": len(campaigns), "campaigns_completed": finished, "dropped": dropped})
    return samples


def report(samples: list[dict], rate: float, measured: float, args) -> str:
    minutes = [s for s in samples if "minute" in s]
    totals = samples[-1]
    groups = sorted(minutes[0]["rss_mb"])
    header = "| minute | requests | behind schedule | errors | 4xx | p50 ms | p99 ms | load | " + " | ".join(
        f"{g} RSS MB" for g in groups
    )
    lines = [
        BEGIN,
        f"## `make soak` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"{args.setup} setup, {args.minutes} minutes open loop at {rate:.0f} requests/s (half of the "
        f"{measured:.0f}/s the same mix reached at 8 closed-loop clients), {args.customers} customers seeded, "
        f"a campaign to every customer each 5 minutes. Machine: {os.cpu_count()} cores, shared.",
        "",
        header + " |",
        "|" + " --- |" * (8 + len(groups)),
    ]
    for s in minutes:
        row = [s["minute"], s["requests"], s["backlog"], s["errors"], s["unexpected_4xx"], s["p50_ms"], s["p99_ms"]]
        row.append(s.get("load_1m", ""))
        row += [s["rss_mb"][g] for g in groups]
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    p99s = [s["p99_ms"] for s in minutes if s["p99_ms"] is not None]
    first, last = minutes[0]["rss_mb"], minutes[-1]["rss_mb"]
    lines += [
        "",
        f"Totals: {sum(s['requests'] for s in minutes)} requests, {sum(s['errors'] for s in minutes)} errors, "
        f"{sum(s['unexpected_4xx'] for s in minutes)} unexpected 4xx, {totals['dropped']} scheduled but never "
        f"started (the schedule was not kept); p99 median over the minutes "
        f"{statistics.median(p99s):.1f} ms, worst {max(p99s):.1f} ms; campaigns completed "
        f"{totals['campaigns_completed']} of {totals['campaigns']}; /readyz ready in "
        f"{sum(1 for s in minutes if s['ready'])} of {len(minutes)} samples.",
        "RSS first minute -> last: " + ", ".join(f"{g} {first[g]} -> {last[g]} MB" for g in groups) + ".",
        END,
    ]
    return "\n".join(lines)


def write(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Reliability\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--setup", choices=("background", "inline"), default="background")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s (default: half the measured capacity)")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = parser.parse_args()
    port = 8500 + os.getpid() % 200
    with stack(args.setup, args.pg, args.redis, port) as (_, key, _env, groups):
        restaurant, customers = seed(port, key, args.customers)
        mix = Mix(restaurant, customers)
        measured = capacity(port, key, mix)
        rate = args.rate or measured / 2
        print(f"capacity {measured:.0f} requests/s; soaking at {rate:.0f}/s", file=sys.stderr, flush=True)
        samples = soak(port, key, mix, rate, args.minutes, groups)
    write(report(samples, rate, measured, args), Path(args.out))
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
