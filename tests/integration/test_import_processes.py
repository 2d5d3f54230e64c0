"""`crm import` in several processes taking turns ends as an import in one process does: the same
customers, visits and totals, the same events in each stream, the same report. If one of its
processes dies, the command finishes the import alone."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from tests.import_runs import crm_import, final_state, progress

CUSTOMER_ROWS = 16_000
VISIT_ROWS = 16_000


def customers_file(path: Path) -> Path:
    """Every kind of row a customers file can hold, spread over the whole file."""
    lines = ["email,first_name,last_name,email_consent,external_id"]
    for n in range(CUSTOMER_ROWS):
        if n % 1_009 == 7:
            lines.append(f"broken-{n},No,Address,,")
        elif n % 1_013 == 9:
            lines.append(f"guest{n - 9}@example.com,Again,{n},,")  # an earlier row's address
        elif n % 1_019 == 11:
            lines.append(f"guest{n}@example.com,Bad,Consent,maybe,")
        elif n % 1_021 == 13:
            lines.append(f"guest{n}@example.com,Taken,External,,POS-{n - 13}")  # an earlier row's id
        else:
            consent = "unsubscribed" if n % 10 == 0 else ""
            lines.append(f"guest{n}@example.com,Guest,{n},{consent},POS-{n}")
    path.write_text("\n".join(lines) + "\n")
    return path


def visits_file(path: Path) -> Path:
    """Visits found by external id and by email, several per customer, with bad rows among them."""
    lines = ["email,external_id,spend,visited_at,external_visit_id"]
    for n in range(VISIT_ROWS):
        customer = (n * 7) % 3_000
        if n % 997 == 3:
            lines.append(f",POS-{customer},-5.00,2026-03-01T19:30:00+01:00,V-{n}")  # negative spend
        elif n % 991 == 5:
            lines.append(f",NOBODY-{n},12.00,2026-03-01T19:30:00+01:00,V-{n}")  # unknown customer
        elif n % 983 == 6:
            lines.append(f",POS-{customer},12.00,2026-03-01T19:30:00+01:00,V-{n - 6}")  # repeated visit id
        elif n % 2:
            lines.append(f",POS-{customer},{10 + n % 50}.25,2026-03-{1 + n % 28:02d}T19:30:00+01:00,V-{n}")
        else:
            lines.append(f"guest{customer}@example.com,,{10 + n % 50}.25,2026-02-{1 + n % 28:02d}T12:00:00+00:00,")
    path.write_text("\n".join(lines) + "\n")
    return path


def imported(settings, kind: str, path: Path, restaurant_id, processes: int) -> str:
    process = crm_import(settings, kind, path, restaurant_id, processes)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    return out.decode()


def under_way_in_two(settings, engine, path: Path, restaurant_id) -> tuple[subprocess.Popen, list[int]]:
    """`crm import` in two processes, once it has saved some batches and more remain; with the
    two processes it started (not multiprocessing's resource tracker)."""
    command = crm_import(settings, "customers", path, restaurant_id, 2)
    deadline = time.monotonic() + 120
    while progress(engine, restaurant_id) < 3_000 and command.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children").read_text().split()
    shares = [int(c) for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(shares) == 2
    return command, shares


def test_an_import_in_three_processes_ends_as_one_in_one_process(application, container, settings, tmp_path):
    people, their_visits = customers_file(tmp_path / "customers.csv"), visits_file(tmp_path / "visits.csv")
    in_one = application.open_restaurant("One process", actor="admin")
    in_three = application.open_restaurant("Three processes", actor="admin")

    for restaurant_id, processes in ((in_one, 1), (in_three, 3)):
        out = imported(settings, "customers", people, restaurant_id, processes)
        assert f"completed; {CUSTOMER_ROWS} of {CUSTOMER_ROWS} rows" in out
        out = imported(settings, "visits", their_visits, restaurant_id, processes)
        assert f"completed; {VISIT_ROWS} of {VISIT_ROWS} rows" in out

    one, three = final_state(container, in_one), final_state(container, in_three)
    assert three == one
    reasons = {dict(r)["reason"].split(" (")[0] for r in one["reports"]}
    assert {"duplicate in file", "unknown customer"} <= reasons
    assert len(one["reports"]) > 40
    assert sum(row[5] for row in one["customers"]) == len(one["visits"]) > 14_000  # visit counts


def test_when_one_of_its_processes_dies_the_command_finishes_the_import_alone(
    application, container, settings, tmp_path
):
    people = customers_file(tmp_path / "customers.csv")
    killed_there = application.open_restaurant("A share killed", actor="admin")
    clean_there = application.open_restaurant("Clean run", actor="admin")

    # Check one of the two processes is killed (kill -9) once some batches are saved.
    command, shares = under_way_in_two(settings, container.engine, people, killed_there)
    os.kill(shares[0], signal.SIGKILL)
    assert progress(container.engine, killed_there) < CUSTOMER_ROWS

    out, err = command.communicate(timeout=300)
    assert command.returncode == 0, err.decode()
    assert f"completed; {CUSTOMER_ROWS} of {CUSTOMER_ROWS} rows" in out.decode()
    imported(settings, "customers", people, clean_there, 1)
    assert final_state(container, killed_there) == final_state(container, clean_there)


def test_a_restaurant_deleted_during_an_import_in_two_processes_fails_it_and_the_command_ends(
    application, container, settings, tmp_path
):
    # A restaurant with customers cannot be deleted: a file of addresses that are not ones.
    broken = tmp_path / "customers.csv"
    broken.write_text("\n".join(["email", *(f"broken-{n}" for n in range(60_000))]) + "\n")
    restaurant_id = application.open_restaurant("Deleted meanwhile", actor="admin")
    command, _ = under_way_in_two(settings, container.engine, broken, restaurant_id)
    application.delete_restaurant(restaurant_id, actor="admin", scope=None)

    # Check the process whose save met the deletion ends the import, and the other one goes
    # through its batches left (as done) instead of waiting for them for ever.
    out, err = command.communicate(timeout=120)
    assert command.returncode == 1, (out.decode(), err.decode())
    assert "failed" in out.decode() and "the restaurant was deleted" in err.decode()
    assert progress(container.engine, restaurant_id) < 60_000


def test_the_processes_die_with_the_command(application, container, settings, tmp_path):
    people = customers_file(tmp_path / "customers.csv")
    restaurant_id = application.open_restaurant("Command killed", actor="admin")
    command, shares = under_way_in_two(settings, container.engine, people, restaurant_id)
    os.kill(command.pid, signal.SIGKILL)
    command.wait()

    # Check the processes are gone, and nothing more is imported.
    time.sleep(0.5)
    stopped_at = progress(container.engine, restaurant_id)
    for pid in shares:
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in _state(pid)
    time.sleep(1.0)
    assert progress(container.engine, restaurant_id) == stopped_at < CUSTOMER_ROWS


def _state(pid: int) -> bytes:
    status = Path(f"/proc/{pid}/status").read_bytes()
    return next(line for line in status.splitlines() if line.startswith(b"State:")).lower()
