"""What every `crm` command needs: the settings and the wired application, a configuration,
domain or database error turned into the command's error message (exit code 1)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

from crm.config import ConfigError, Settings

T = TypeVar("T")


def settings() -> Settings:
    """The settings from the environment; a bad one ends the command with its message."""
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def require_migrated(given: Settings) -> None:
    """End the command with a clear message if the database is not migrated for this version
    (a long-running process would otherwise fail on its first query, again and again)."""
    from crm.bootstrap import unmigrated

    problem = unmigrated(given)
    if problem is not None:
        raise click.ClickException(problem)


def container(given: Settings | None = None):
    """The application wired to the configured database (and broker, if any)."""
    from crm.bootstrap import build

    try:
        return build(given or settings())
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def refusing(command: Callable[[], T]) -> T:
    """What `command` returns; a domain error (an unknown email, a short password) ends the
    command with its message."""
    from crm.write_model.errors import DomainError

    try:
        return command()
    except DomainError as error:
        raise click.ClickException(str(error)) from None


class Commands(click.Group):
    """The `crm` group: a command that fails on the database itself (out of reach, too many
    connections, a lock or statement timeout) ends with the database's own words and the URL
    it used (password hidden), not a traceback; with LOG_LEVEL=DEBUG the traceback follows."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as error:
            problem = database_problem(error)
            if problem is None:
                raise
            if settings().log_level == "DEBUG":  # SQLite reports a bug's bad SQL as operational too
                click.echo(f"Error: {problem}", err=True)
                raise
            raise click.ClickException(problem) from None


def database_problem(error: BaseException) -> str | None:
    """What to tell of `error` if the database failed under it (or is not migrated for this
    version), else None: a bug's error, such as a constraint or syntax error, keeps its traceback."""
    exc = sys.modules.get("sqlalchemy.exc")  # loaded by whatever reached the database
    cause: BaseException | None = error
    while exc is not None and cause is not None and not isinstance(cause, exc.DBAPIError):
        cause = cause.__cause__  # the event store's library wraps the driver's error in its own
    if exc is None or cause is None:
        return None
    from crm.bootstrap import unmigrated

    given = settings()
    problem = unmigrated(given)  # a missing table is the likeliest error, and this says why
    if problem is not None:
        return problem
    if not isinstance(cause, exc.OperationalError):
        return None
    said = " ".join(line.strip() for line in str(cause.orig).splitlines() if line.strip())
    from sqlalchemy.engine import make_url

    url = make_url(given.database_url).render_as_string(hide_password=True)
    return f"the database failed ({url}): {said}"
