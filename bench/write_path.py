"""The write path of one command, in process: milliseconds, SQL statements and transactions.

    DATABASE_URL=postgresql+psycopg2://postgres@127.0.0.1/crm_bench SECRET_KEY=bench \\
        python bench/write_path.py --customers 200 --visits 2000

No HTTP and one thread, so the figures are the application's and the database's own cost:
registrations, then visits spread over the customers (each followed by the inline
read-your-writes a view asks for), each timed and counted with SQLAlchemy's event hooks.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import event

from crm.bootstrap import build, migrate
from crm.config import Settings


class StatementCounter:
    def __init__(self, engine):
        self.statements = self.transactions = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._commit)

    def _statement(self, *args) -> None:
        self.statements += 1

    def _commit(self, *args) -> None:
        self.transactions += 1

    def take(self) -> tuple[int, int]:
        counts = (self.statements, self.transactions)
        self.statements = self.transactions = 0
        return counts


def measure(name: str, commands, container, counter: StatementCounter) -> dict:
    read_side = container.read_side
    times, statements, transactions = [], [], []
    cpu = time.process_time()
    for command in commands:
        counter.take()
        started = time.perf_counter()
        recorded = command()
        read_side.wait_for(recorded.position, read_side.concerned(recorded.topics))
        times.append((time.perf_counter() - started) * 1000)
        done = counter.take()
        statements.append(done[0])
        transactions.append(done[1])
    return {
        "command": name,
        "n": len(times),
        "ms_p50": round(statistics.median(times), 2),
        "ms_mean": round(statistics.fmean(times), 2),
        "cpu_ms_per_command": round((time.process_time() - cpu) * 1000 / len(times), 2),
        "statements": round(statistics.fmean(statements), 1),
        "transactions": round(statistics.fmean(transactions), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--visits", type=int, default=2000)
    args = parser.parse_args()
    settings = Settings.from_env()
    migrate(settings)
    container = build(settings)
    app = container.application
    counter = StatementCounter(container.engine)
    restaurant = app.open_restaurant("Write Path Diner", actor="bench").id
    tag = time.time_ns()
    people: list = []

    def register(i: int):
        def command():
            recorded = app.register_customer(restaurant, f"w{tag}-{i}@example.com", "W", str(i), actor="b", scope=None)
            people.append(recorded.id)
            return recorded

        return command

    print(measure("register_customer", [register(i) for i in range(args.customers)], container, counter))
    visits = [
        (lambda c=people[i % len(people)], s=100 + i: app.record_visit(c, s, actor="b", scope=None))
        for i in range(args.visits)
    ]
    print(measure("record_visit", visits, container, counter))
    container.close()


if __name__ == "__main__":
    main()
