"""`crm import`: bring a CSV file of customers or visits into a restaurant, with a progress bar.

The import runs batch by batch, in this process or, for a large file on PostgreSQL, in one
process per CPU taking turns (`import_processes`); interrupted (even by kill -9), the same
command with the same file goes on after the last batch that was saved.
"""

from __future__ import annotations

import getpass
import sys
import time
from typing import BinaryIO
from uuid import UUID

import click

from crm.cli import import_processes, support
from crm.cyclic_gc import cycle_collection_paused
from crm.locks import exclusive, import_lock
from crm.write_model.vocabulary import ImportKind

REPORT_ROWS_SHOWN = 20
FOLLOW_SECONDS = 0.5


@click.group("import")
def import_() -> None:
    """Import customers or visits from a CSV file (UTF-8, comma or semicolon, header row)."""


def _options(command):
    command = click.option(
        "--processes",
        type=click.IntRange(1, import_processes.MAX_PROCESSES),
        default=None,
        help="Processes importing in turns (default: one per CPU, at most "
        f"{import_processes.MAX_PROCESSES}, on PostgreSQL; SQLite always uses one; "
        f"files under {import_processes.MIN_ROWS_PER_PROCESS:,} rows a process use fewer).",
    )(command)
    command = click.option(
        "--restaurant", "restaurant_id", type=click.UUID, required=True, help="The restaurant to import into."
    )(command)
    return click.argument("file", type=click.File("rb"))(command)


@import_.command("customers")
@_options
def import_customers(file: BinaryIO, restaurant_id: UUID, processes: int | None) -> None:
    """Columns: email (required), first_name, last_name, email_consent, external_id."""
    _run(ImportKind.CUSTOMERS, file, restaurant_id, processes)


@import_.command("visits")
@_options
def import_visits(file: BinaryIO, restaurant_id: UUID, processes: int | None) -> None:
    """Columns: email or external_id, spend_cents or spend, visited_at, external_visit_id."""
    _run(ImportKind.VISITS, file, restaurant_id, processes)


def _run(kind: ImportKind, file: BinaryIO, restaurant_id: UUID, processes: int | None) -> None:
    from crm.write_model.errors import DomainError

    container = support.container()
    app = container.application
    dialect = container.engine.dialect.name
    if not file.seekable():
        raise click.BadParameter("must be a file, not a pipe", param_hint="FILE")
    if processes is not None and processes > 1 and dialect == "sqlite":
        click.echo("SQLite has one writer: importing in one process", err=True)
    wanted = 1 if dialect == "sqlite" else processes or import_processes.default_processes(dialect)
    try:
        started = app.start_import(
            restaurant_id, kind, getattr(file, "name", "stdin"), file, actor=f"cli:{_user()}", scope=None
        )
        progress = app.import_progress(started.id)
        bar = click.progressbar(length=max(progress["rows"], 1), label=f"importing {kind.value}", file=sys.stderr)
        with bar, exclusive(container.engine, import_lock(started.id)) as mine:
            bar.update(progress["done"])
            count = import_processes.processes_for(wanted, progress["rows"] - progress["done"])
            if mine and count > 1:
                import_processes.run_in_processes(
                    app, started.id, count, lambda now: bar.update(now["done"] - bar.pos), FOLLOW_SECONDS
                )
            if mine:  # in one process, or what the processes left (one failed)
                with cycle_collection_paused():
                    app.continue_import(started.id, on_batch=lambda batch: bar.update(batch.done - bar.pos))
            else:  # a worker runs it (uploaded through the API, or this command's import resumed there)
                click.echo(f"import {started.id} is running in another process; following it", err=True)
                while progress["status"] == "running":
                    time.sleep(FOLLOW_SECONDS)
                    progress = app.import_progress(started.id)
                    bar.update(progress["done"] - bar.pos)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    container.read_side.wait_for(container.runner.head(), ["imports"])
    _report(container, started.id)


def _report(container, import_id: UUID) -> None:
    found = container.import_queries.import_(import_id, None)
    click.echo(
        f"import {import_id}: {found['status']}; {found['rows_done']} of {found['rows_total']} rows: "
        f"{found['imported']} imported, {found['updated']} updated, {found['unchanged']} unchanged, "
        f"{found['rejected']} rejected"
    )
    if found["error"]:
        click.echo(f"error: {found['error']}", err=True)
    for n, rejection in enumerate(container.import_queries.all_rejections(import_id)):
        if n == REPORT_ROWS_SHOWN:
            click.echo(f"... and {found['rejected'] - n} more: GET /api/imports/{import_id}/rejections.csv")
            break
        click.echo(f"line {rejection['line']}: {rejection['field']}: {rejection['reason']}")
    if found["status"] == "failed":
        sys.exit(1)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        return "unknown"
