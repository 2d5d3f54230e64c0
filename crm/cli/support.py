"""What every `crm` command needs: the settings and the wired application, a configuration or
domain error turned into the command's error message (exit code 1)."""

from __future__ import annotations

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
