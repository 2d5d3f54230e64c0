"""`crm operator`: the dashboard's operators (create, list, remove, unlock, set-password)."""

from __future__ import annotations

import click

from crm.cli import support


@click.group()
def operator() -> None:
    """Dashboard operators (they see every restaurant)."""


PASSWORD_HELP = "At least 8 characters; prompted for (twice, hidden) when not given."


@operator.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help=PASSWORD_HELP)
def operator_create(email: str, password: str) -> None:
    """Create an operator who can log in to the dashboard at /internal/."""
    created = support.refusing(lambda: support.container().operators.create(email, password))
    click.echo(f"operator {created.email} created", err=True)


@operator.command("list")
def operator_list() -> None:
    """List the operators: email, when created, and whether failed logins have locked them out."""
    found = support.container().operators.all()
    if not found:
        click.echo("no operators (create one: crm operator create EMAIL)", err=True)
        return
    width = max(len("email"), *(len(row["email"]) for row in found))
    click.echo(f"{'email':<{width}}  {'created':<20}  locked")
    for row in found:
        locked = f"until {_minute(row['locked_until'])}" if row["locked_until"] else "no"
        click.echo(f"{row['email']:<{width}}  {_minute(row['created_at']):<20}  {locked}")


@operator.command("remove")
@click.argument("email")
def operator_remove(email: str) -> None:
    """Remove an operator; their dashboard sessions end at their next request."""
    support.refusing(lambda: support.container().operators.remove(email))
    click.echo(f"operator {_normalised(email)} removed", err=True)


@operator.command("unlock")
@click.argument("email")
def operator_unlock(email: str) -> None:
    """Lift the lockout that failed logins put on an operator's email, and forget those failures."""
    was_locked = support.refusing(lambda: support.container().operators.unlock(email))
    click.echo(f"operator {_normalised(email)} {'unlocked' if was_locked else 'was not locked'}", err=True)


@operator.command("set-password")
@click.argument("email")
@click.option("--password", help=PASSWORD_HELP)
def operator_set_password(email: str, password: str | None) -> None:
    """Give an operator a new password: their dashboard sessions end at their next request (a
    lockout stays: `crm operator unlock` lifts it)."""
    from crm.adapters.operators import OperatorNotFound

    operators = support.container().operators
    if operators.get(email) is None:  # before asking for a password
        raise click.ClickException(str(OperatorNotFound(_normalised(email))))
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    support.refusing(lambda: operators.set_password(email, password))
    click.echo(f"operator {_normalised(email)} has a new password", err=True)


def _normalised(email: str) -> str:
    from crm.adapters.operators import normalised

    return normalised(email)


def _minute(moment) -> str:
    from datetime import timezone

    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
