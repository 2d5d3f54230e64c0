"""The `crm` command: serve, worker, projector, migrate, apikey, history, projections; and
`operator`, `import` and `export` from this package's other modules."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from uuid import UUID

import click

from crm import logs
from crm.cli import support
from crm.cli.exports import export
from crm.cli.imports import import_
from crm.cli.operators import operator


@click.group(cls=support.Commands)
def main() -> None:
    """CRM Backend Service."""
    settings = support.settings()
    logs.configure(settings.log_level, settings.log_format)
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if settings.uses_default_secret:
        click.echo("warning: SECRET_KEY is not set; using an insecure development secret", err=True)


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: $HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: $PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the REST API (gunicorn; one process with threads on SQLite)."""
    from crm.serve import serve as run

    settings = support.settings()
    support.require_migrated(settings)
    host, port = host or settings.host, port or settings.port
    click.echo(f"CRM serving on http://{host}:{port}/api/ (docs: http://{host}:{port}/api/docs)", err=True)
    run(settings, host, port)


@main.command()
@click.option("--concurrency", "-c", type=int, default=None, help="Tasks at once (default: one per core).")
@click.option(
    "--pool",
    type=click.Choice(["prefork", "threads"]),
    default=None,
    help="prefork (the default; solo on Windows): a process per task, on every core. threads: one "
    "process, a third of the memory, for sending that waits on a mail server.",
)
def worker(concurrency: int | None, pool: str | None) -> None:
    """Run the campaign workers (Celery) and the campaign follower; needs a broker."""
    settings = support.settings()
    if not settings.broker_url:
        raise click.ClickException(
            "set CELERY_BROKER_URL or REDIS_URL (e.g. redis://127.0.0.1:6379/0); "
            "without a broker, `crm serve` runs the worker itself"
        )
    if settings.is_sqlite:
        raise click.ClickException(
            "crm worker needs PostgreSQL (its locks span processes); with SQLite, `crm serve` runs the worker itself"
        )
    support.require_migrated(settings)
    from crm.workers import runtime
    from crm.workers.celery_app import get_app

    runtime.configure(settings)
    argv = ["worker", "--loglevel", settings.log_level, "--queues", "crm"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if pool:
        argv += ["--pool", pool]
    get_app(settings).worker_main(argv)


@main.command()
@click.argument("names", nargs=-1)
def projector(names: tuple[str, ...]) -> None:
    """Keep the read tables current (all projections, or NAMES); one active instance each.

    Start several for standby: the others wait and take over within seconds when the active
    one stops. Pair with PROJECTION_MODE=background in the web and worker processes.
    """
    import signal

    from crm.projectors.engine import ProjectorDaemon

    settings = support.settings()
    support.require_migrated(settings)
    if not settings.is_sqlite:  # names this process's connections (pg_stat_activity)
        from sqlalchemy.engine import make_url

        url = make_url(settings.database_url).update_query_dict({"application_name": "crm-projector"})
        settings = replace(settings, database_url=url.render_as_string(hide_password=False))
    container = support.container(settings)
    _check_names(names, container.runner.projectors)
    if settings.projection_mode == "inline":
        click.echo("note: PROJECTION_MODE is inline, so web processes also project; set it to background", err=True)
    daemon = ProjectorDaemon(container.runner, names or None, poll_seconds=settings.projector_poll_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: daemon.stop())
    click.echo(f"projector following {', '.join(daemon.names)}", err=True)
    daemon.run()


@main.command()
def migrate() -> None:
    """Create or upgrade the event store and read-model tables."""
    from crm.bootstrap import migrate as run

    run(support.settings())
    click.echo("database is up to date", err=True)


@main.group()
def apikey() -> None:
    """Issue and revoke API keys."""


@apikey.command("create")
@click.option("--name", required=True, help="A unique name; recorded as the actor of every change.")
@click.option("--admin", is_flag=True, help="A key that sees every restaurant.")
@click.option("--restaurant", "restaurant_id", type=click.UUID, help="A key scoped to one restaurant.")
def apikey_create(name: str, admin: bool, restaurant_id: UUID | None) -> None:
    """Create a key and print it (only the key, on stdout; it is not shown again)."""
    if admin == (restaurant_id is not None):
        raise click.UsageError("give exactly one of --admin or --restaurant ID")
    container = support.container()
    if restaurant_id is not None and container.queries.restaurant(restaurant_id, None) is None:
        raise click.BadParameter(f"no restaurant {restaurant_id}", param_hint="--restaurant")
    click.echo(_issue(container, name, restaurant_id))


@apikey.command("bootstrap")
def apikey_bootstrap() -> None:
    """Create an admin key named 'admin' if no admin key exists yet, and print it once."""
    container = support.container()
    if container.api_keys.has_admin_key():
        click.echo("an admin API key already exists (create another: crm apikey create --admin --name NAME)", err=True)
        return
    name = next(n for n in ("admin", *(f"admin-{i}" for i in range(2, 1000))) if not container.api_keys.name_taken(n))
    key = _issue(container, name, None)
    click.echo(f"Your admin API key {name!r} (shown once, keep it):", err=True)
    click.echo(key)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke the key called NAME."""
    from crm.write_model.errors import NotFound

    try:
        support.container().api_keys.revoke(name)
    except NotFound:
        raise click.ClickException(f"no active API key named {name!r}") from None
    click.echo(f"revoked {name}", err=True)


def _issue(container, name: str, restaurant_id: UUID | None) -> str:
    from crm.write_model.errors import DomainError

    try:
        return container.api_keys.issue(name, restaurant_id)
    except DomainError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.argument("customer_id", type=click.UUID)
def history(customer_id: UUID) -> None:
    """Print a customer's events in order."""
    from crm.write_model.errors import CustomerNotFound

    try:
        events = support.container().application.customer_history(customer_id, scope=None)
    except CustomerNotFound:
        raise click.ClickException(f"no customer {customer_id}") from None
    for event in events:
        data = ", ".join(f"{k}={v}" for k, v in event["data"].items())
        click.echo(f"v{event['version']:<4} {event['occurred_at']}  {event['type']:<15} by {event['actor']}  {data}")


@main.group()
def projections() -> None:
    """Inspect and rebuild the read model."""


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes that replay a projection's streams in parallel (PostgreSQL; default: one per CPU, at most 4).",
)
def projections_rebuild(names: tuple[str, ...], workers: int | None) -> None:
    """Rebuild read tables (all, or NAMES) from the whole log into fresh tables, then swap them in.

    Readers keep the old tables until the swap; a running `crm projector` goes on meanwhile.
    """
    container = support.container()
    runner = container.runner
    _check_names(names, runner.projectors)
    started = time.perf_counter()
    bars: dict[str, object] = {}

    def progress(name: str, position: int, end: int) -> None:
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = click.progressbar(length=max(end, 1), label=f"{name:<12}", file=sys.stderr)
            bar.__enter__()
        bar.update(position - bar.pos)

    from crm.bootstrap import rebuilder
    from crm.projectors.engine import RebuildRunning

    rebuilding = rebuilder(container, workers)
    try:
        rebuilding.rebuild_all(names or None, progress=progress)
    except RebuildRunning as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:
        problem = support.database_problem(error)
        if problem is None:
            raise
        if container.settings.is_sqlite:  # one file, no connection limit to speak of
            raise click.ClickException(f"{problem}\nNothing live has changed.") from None
        raise click.ClickException(
            f"{problem}\nNothing live has changed. This rebuild needs {3 + 2 * rebuilding.workers} "
            "connections (3, and 2 for each of its --workers processes)."
        ) from None
    for bar in bars.values():
        bar.__exit__(None, None, None)
    elapsed = time.perf_counter() - started
    events = container.event_store.recorder.count()
    click.echo(f"rebuilt {events} events in {elapsed:.2f} s ({events / elapsed if elapsed else 0:.0f} events/s)")


@projections.command("status")
def projections_status() -> None:
    """Each projection's position, the head of the log, and how many of its events it has yet to apply."""
    from crm.projectors.engine import projection_status

    rows = projection_status(support.container().runner)
    click.echo(f"{'projection':<12} {'position':>10} {'head':>10} {'behind':>8}  projector")
    for row in rows:
        click.echo(f"{row['name']:<12} {row['position']:>10} {row['head']:>10} {row['behind']:>8}  {row['projector']}")
    for row in rows:
        for letter in row["dead_letters"]:
            state = "stopped before it" if letter["position"] > row["position"] else "skipped"
            event = f"event {letter['position']} ({letter['topic']}, {state})"
            click.echo(
                f"{row['name']}: cannot apply {event}: {letter['error']}"
                f" -- after a fix: crm projections retry {row['name']}"
            )


@projections.command("retry")
@click.argument("name")
def projections_retry(name: str) -> None:
    """Try again the events a projection could not apply (after a fix)."""
    runner = support.container().runner
    _check_names((name,), runner.projectors)
    result = runner.retry(name)
    caught_up = runner.catch_up_projection(name) if result["released"] else 0
    click.echo(
        f"{name}: {result['released']} released and {caught_up} events applied since, "
        f"{result['applied']} skipped events applied, {result['failed']} still failing"
    )
    if result["failed"]:
        raise SystemExit(1)


def _check_names(names: tuple[str, ...], known) -> None:
    unknown = set(names) - set(known)
    if unknown:
        raise click.BadParameter(f"unknown projection(s): {', '.join(sorted(unknown))}; known: {', '.join(known)}")


main.add_command(export)
main.add_command(import_)
main.add_command(operator)
