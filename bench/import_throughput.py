"""Throughput of CSV imports end to end: `crm import customers`, then `crm import visits`, each a
file of `--rows` rows, into a fresh restaurant, timed from the command's start to its exit.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1:5432/crm_bench SECRET_KEY=bench \\
        python bench/import_throughput.py --rows 100000 --runs 3

The customers file has names, an external id and 1 in 10 rows unsubscribed; the visits file
finds its customers by external id, a visit per row spread over every customer, each with an
`external_visit_id`. Each run imports into a new restaurant (the files differ by a run prefix,
so no run matches another's rows). Prints rows/s per run and the median, and the processes'
CPU time beside the wall time (what the database's side took is the rest). `--processes 1 2`
runs `crm import --processes 1` and `--processes 2` in turns (0: the command's default).
`--fresh-database` runs each in a new database of its own (PostgreSQL): a run then does not
meet the dead rows and grown indexes of the runs before it, which this machine's PostgreSQL,
without autovacuum, keeps.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

from crm.bootstrap import build, migrate
from crm.config import Settings


def customers_file(path: Path, prefix: str, rows: int) -> None:
    with path.open("w") as out:
        out.write("email,first_name,last_name,email_consent,external_id\n")
        for n in range(rows):
            consent = "unsubscribed" if n % 10 == 0 else "subscribed"
            out.write(f"{prefix}.guest{n}@example.com,Guest,Number {n},{consent},{prefix}-{n}\n")


def visits_file(path: Path, prefix: str, rows: int, customers: int) -> None:
    with path.open("w") as out:
        out.write("external_id,spend,visited_at,external_visit_id\n")
        for n in range(rows):
            day = 1 + n % 28
            out.write(
                f"{prefix}-{(n * 7919) % customers},{10 + n % 90}.50,2026-03-{day:02d}T19:30:00+01:00,{prefix}-v{n}\n"
            )


def timed_import(kind: str, path: Path, restaurant_id, processes: int | None, url: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `crm import` into the database at `url` (its processes' CPU summed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    more = ["--processes", str(processes)] if processes else []
    subprocess.run(
        [sys.executable, "-m", "crm", "import", kind, str(path), "--restaurant", str(restaurant_id), *more],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DATABASE_URL": url},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@contextmanager
def database(settings: Settings, fresh: bool, label: str):
    """The database a run imports into, migrated: `DATABASE_URL`'s, or with `fresh` (PostgreSQL)
    one of the run's own, created on the same server and dropped after."""
    if not fresh:
        migrate(settings)
        yield settings
        return
    server = make_url(settings.database_url)
    name = f"crm_import_{label}_{os.getpid()}"
    admin = psycopg2.connect(server.set(drivername="postgresql").render_as_string(hide_password=False))
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        own = replace(settings, database_url=server.set(database=name).render_as_string(hide_password=False))
        migrate(own)
        yield own
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="*",
        default=[0],
        help="crm import --processes N for each (0: its default), in turns",
    )
    parser.add_argument(
        "--fresh-database",
        action="store_true",
        help="each run in a new database on DATABASE_URL's server (PostgreSQL), dropped after",
    )
    args = parser.parse_args()
    settings = Settings.from_env()
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.runs):
            for processes in args.processes:
                prefix = f"r{run}-p{processes}-{os.getpid()}-{int(time.time())}"
                with database(settings, args.fresh_database, f"r{run}_p{processes}") as target:
                    container = build(target)
                    restaurant_id = container.application.open_restaurant(f"Import bench {prefix}", actor="bench").id
                    container.close()
                    customers_path, visits_path = Path(scratch, "customers.csv"), Path(scratch, "visits.csv")
                    customers_file(customers_path, prefix, args.rows)
                    visits_file(visits_path, prefix, args.rows, args.rows)
                    for kind, path in (("customers", customers_path), ("visits", visits_path)):
                        wall, cpu = timed_import(kind, path, restaurant_id, processes, target.database_url)
                        results.setdefault((kind, processes), []).append((wall, cpu))
                        print(
                            f"run {run + 1} {kind:<9} processes {processes or 'default'}: "
                            f"{args.rows / wall:8.0f} rows/s  ({wall:.1f} s, CPU {cpu:.1f} s)"
                        )
    for (kind, processes), runs in sorted(results.items()):
        median = statistics.median(args.rows / wall for wall, _ in runs)
        print(
            f"median {kind:<9} processes {processes or 'default'}: {median:8.0f} rows/s "
            f"over {len(runs)} runs of {args.rows} rows"
        )


if __name__ == "__main__":
    main()
