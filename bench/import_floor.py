"""The floor under an import's figure: the rows a CSV import must write, written by hand.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/postgres \\
        python bench/import_floor.py --rows 100000 --runs 3

For `--rows` customer rows and then as many visit rows, it writes in batches of 1,000, one
transaction each, what `crm import` writes for them, with none of our code in the way: COPY
of the events (payloads of the sizes ours have), of the streams' owners, of the customers'
keys and of the read rows, and one UPDATE of the visited customers' totals (their indexes and
all). No row is read, checked, encrypted or encoded, so the import can go no faster than this:
it is the database's share alone. Printed: rows/s, and the PostgreSQL backend's CPU seconds
beside the wall time (the rest of one core is the client and the round trips).

It works in a database of its own, created on `DATABASE_URL`'s server, migrated, and dropped
at the end: its events have no real payloads and must never meet a projector.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg2
from sqlalchemy.engine import make_url

from crm.bootstrap import migrate
from crm.config import Settings

BATCH = 1_000
# Bytes of each event's stored state, as measured after a `bench/import_throughput.py` run.
CUSTOMER_EVENTS = {"Customer.Registered": 458, "CustomerEmail.Claimed": 296, "CustomerExternalId.Claimed": 307}
UNSUBSCRIBED, VISIT_RECORDED, BATCH_IMPORTED = 204, 374, 240


class Floor:
    """One connection to the scratch database, and the backend's CPU time."""

    def __init__(self, dsn: str):
        self.connection = psycopg2.connect(dsn)
        self.cursor = self.connection.cursor()
        self.cursor.execute("SELECT pg_backend_pid()")
        self.backend = self.cursor.fetchone()[0]
        self.next_id = 1 + self._scalar("SELECT coalesce(max(id), 0) FROM crm_events")

    def _scalar(self, sql: str):
        self.cursor.execute(sql)
        return self.cursor.fetchone()[0]

    def backend_cpu(self) -> float | None:
        """The backend's CPU seconds (None when PostgreSQL runs on another host)."""
        try:
            fields = open(f"/proc/{self.backend}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def analyze(self) -> None:
        self.connection.commit()
        self.connection.autocommit = True
        self.cursor.execute("ANALYZE")
        self.connection.autocommit = False

    def copy(self, table: str, columns: str, lines: Iterable[str]) -> None:
        self.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines)))

    def events(self, events: list[tuple[uuid.UUID, int, str, int]]) -> None:
        """Events as (stream, version, topic, payload bytes), under the lock our appends take."""
        self.cursor.execute("LOCK TABLE crm_events IN EXCLUSIVE MODE")
        first, self.next_id = self.next_id, self.next_id + len(events)
        self.copy(
            "crm_events",
            "id, originator_id, originator_version, topic, state",
            (
                f"{first + n}\t{stream}\t{version}\t{topic}\t\\\\x{os.urandom(size).hex()}\n"
                for n, (stream, version, topic, size) in enumerate(events)
            ),
        )

    def progress(self, import_id: uuid.UUID, version: int) -> None:
        """What every batch adds: the import's own event and the projections' positions."""
        self.events([(import_id, version, "Import.BatchImported", BATCH_IMPORTED)])
        self.cursor.execute("UPDATE projection_tracking SET position = %s", (self.next_id - 1,))

    def customers(self, restaurant: uuid.UUID, ids: list[uuid.UUID], first: int, import_id, batch: int) -> None:
        now = datetime.now(UTC).isoformat()
        events = []
        for n, id in enumerate(ids, start=first):
            events += [(id, 1, "Customer.Registered", CUSTOMER_EVENTS["Customer.Registered"])]
            events += [(uuid.uuid4(), 1, topic, size) for topic, size in list(CUSTOMER_EVENTS.items())[1:]]
            if n % 10 == 0:
                events += [(id, 2, "Customer.Unsubscribed", UNSUBSCRIBED)]
        self.events(events)
        self.copy("stream_owners", "stream_id, owner_id", (f"{id}\t{restaurant}\n" for id in ids))
        self.copy(
            "customer_keys",
            "customer_id, wrapped_key, created_at",
            (f"{id}\t\\\\x{os.urandom(60).hex()}\t{now}\n" for id in ids),
        )
        self.copy(
            "customers",
            "id, restaurant_id, email, first_name, last_name, search_text, total_spend_cents, visit_count, "
            "last_active_at, created_at, email_consent, email_consent_changed_at, external_id",
            (
                f"{id}\t{restaurant}\tguest{n}@example.com\tGuest\tNumber {n}\tguest{n}@example.com guest number {n}"
                f"\t0\t0\t{now}\t{now}\t{'unsubscribed' if n % 10 == 0 else 'subscribed'}\t{now}\tx-{n}\n"
                for n, id in enumerate(ids, start=first)
            ),
        )
        self.copy(
            "consent_changes",
            "customer_id, version, email_consent, source, changed_at",
            (f"{id}\t3\tunsubscribed\timport\t{now}\n" for n, id in enumerate(ids, start=first) if n % 10 == 0),
        )
        self.progress(import_id, batch)
        self.connection.commit()

    def visits(self, restaurant: uuid.UUID, customers: list[uuid.UUID], import_id, batch: int) -> None:
        visits = [(uuid.uuid4(), customer) for customer in customers]
        self.events([(visit, 1, "Visit.VisitRecorded", VISIT_RECORDED) for visit, _ in visits])
        self.copy("stream_owners", "stream_id, owner_id", (f"{visit}\t{customer}\n" for visit, customer in visits))
        at = "2026-03-01 19:30:00+01"
        self.copy(
            "visits",
            "id, customer_id, restaurant_id, spend_cents, visited_at",
            (f"{visit}\t{customer}\t{restaurant}\t1250\t{at}\n" for visit, customer in visits),
        )
        self.cursor.execute(
            "UPDATE customers c SET total_spend_cents = c.total_spend_cents + v.spend, "
            "visit_count = c.visit_count + 1, last_visit_at = greatest(c.last_visit_at, v.at), "
            "first_visit_at = least(c.first_visit_at, v.at), last_active_at = greatest(c.last_active_at, v.at) "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::timestamptz[]) AS v(id, spend, at) WHERE c.id = v.id",
            ([str(c) for c in customers], [1250] * len(customers), [at] * len(customers)),
        )
        self.progress(import_id, batch)
        self.connection.commit()


def timed(floor: Floor, write) -> tuple[float, float | None]:
    """Wall seconds of `write()`, and the backend's CPU seconds over it."""
    cpu, started = floor.backend_cpu(), time.perf_counter()
    write()
    wall, after = time.perf_counter() - started, floor.backend_cpu()
    return wall, None if cpu is None or after is None else after - cpu


def one_run(floor: Floor, rows: int) -> dict[str, tuple[float, float | None]]:
    restaurant = uuid.uuid4()
    customers = [uuid.uuid4() for _ in range(rows)]
    visited = [customers[(n * 7919) % rows] for n in range(rows)]  # every customer once, spread
    batches = range(0, rows, BATCH)

    def import_customers() -> None:
        import_id = uuid.uuid4()
        for batch, start in enumerate(batches, start=2):
            floor.customers(restaurant, customers[start : start + BATCH], start, import_id, batch)

    def import_visits() -> None:
        import_id = uuid.uuid4()
        for batch, start in enumerate(batches, start=2):
            floor.visits(restaurant, visited[start : start + BATCH], import_id, batch)

    figures = {"customers": timed(floor, import_customers)}
    floor.analyze()  # as autovacuum, or the import's own ANALYZE as a load doubles, would have
    figures["visits"] = timed(floor, import_visits)
    floor.analyze()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = make_url(os.environ["DATABASE_URL"])
    name = f"crm_floor_{os.getpid()}"
    admin = psycopg2.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    scratch = server.set(database=name)
    try:
        url = scratch.render_as_string(hide_password=False)
        migrate(Settings.from_env({**os.environ, "DATABASE_URL": url, "SECRET_KEY": "floor"}))
        floor = Floor(scratch.set(drivername="postgresql").render_as_string(hide_password=False))
        results: dict[str, list[tuple[float, float | None]]] = {"customers": [], "visits": []}
        for run in range(args.runs):
            for kind, (wall, cpu) in one_run(floor, args.rows).items():
                results[kind].append((wall, cpu))
                backend = f", PostgreSQL CPU {cpu:.1f} s" if cpu is not None else ""
                print(f"run {run + 1} {kind:<9} {args.rows / wall:8.0f} rows/s  ({wall:.1f} s{backend})")
        floor.connection.close()
        for kind, runs in results.items():
            median = statistics.median(args.rows / wall for wall, _ in runs)
            print(f"median {kind:<9} {median:8.0f} rows/s over {len(runs)} runs of {args.rows} rows")
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


if __name__ == "__main__":
    main()
