"""Commands racing on one aggregate: what the in-process stripe locks and the retry bound buy.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/crm_bench SECRET_KEY=bench \\
        python bench/contention.py --threads 8 --visits 50 --processes 2

Each of `--processes` application objects (standing for web processes: no shared locks) runs
`--threads` threads that record `--visits` visits each on ONE customer, first with the stripe
locks (commands on one aggregate queue up inside a process), then without them (every
collision is an optimistic-concurrency conflict, reloaded and retried). It prints, for each
way, the visits per second, how many commands ran out of retries (a client's 409), how many
conflicts were retried, and the most attempts one command needed (the bound is
`COMMAND_RETRIES`, 30 by default).
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from eventsourcing.persistence import IntegrityError

from crm.bootstrap import build, migrate
from crm.config import Settings
from crm.write_model.errors import ConcurrencyConflict


class CountingSaves:
    """Counts, per thread, the saves of a command that lost a race (IntegrityError)."""

    def __init__(self, application):
        self.conflicts = Counter()  # thread id -> conflicts in the current command
        self.worst = 0
        self.total = 0
        self._lock = threading.Lock()
        save = application.save

        def counting_save(*args, **kwargs):
            try:
                return save(*args, **kwargs)
            except IntegrityError:
                with self._lock:
                    self.conflicts[threading.get_ident()] += 1
                    self.total += 1
                raise

        application.save = counting_save

    def command_done(self) -> None:
        with self._lock:
            attempts = self.conflicts.pop(threading.get_ident(), 0) + 1
            self.worst = max(self.worst, attempts)


def run(settings: Settings, processes: int, threads: int, visits: int, stripes: bool) -> dict:
    containers = [build(settings) for _ in range(processes)]
    first = containers[0].application
    restaurant = first.open_restaurant("Contention Café", actor="bench").id
    customer = first.register_customer(restaurant, f"c{time.time_ns()}@example.com", actor="bench", scope=None).id
    counters = []
    for container in containers:
        if not stripes:  # every command goes straight to the event store
            container.application._serialised = lambda *ids: contextlib.nullcontext()
        counters.append(CountingSaves(container.application))

    refused = []

    def writer(n: int) -> None:
        application, counter = containers[n % processes].application, counters[n % processes]
        for i in range(visits):
            try:
                application.record_visit(customer, 100 + i, actor="bench", scope=None)
            except ConcurrencyConflict:  # out of retries: a client would get 409
                refused.append(n)
            counter.command_done()

    started = time.perf_counter()
    with ThreadPoolExecutor(processes * threads) as pool:
        list(pool.map(writer, range(processes * threads)))
    elapsed = time.perf_counter() - started
    recorded = len(first.repository.get(customer).visits)
    for container in containers:
        container.close()
    return {
        "stripes": stripes,
        "visits": recorded,
        "visits_per_s": round(recorded / elapsed, 1),
        "refused_409": len(refused),
        "conflicts_retried": sum(c.total for c in counters),
        "most_attempts_for_one_command": max(c.worst for c in counters),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=2, help="application objects (web processes)")
    parser.add_argument("--threads", type=int, default=8, help="threads per application object")
    parser.add_argument("--visits", type=int, default=50, help="visits each thread records")
    args = parser.parse_args()
    settings = Settings.from_env()
    migrate(settings)
    for stripes in (True, False):
        print(run(settings, args.processes, args.threads, args.visits, stripes), flush=True)


if __name__ == "__main__":
    main()
