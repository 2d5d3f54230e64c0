"""`crm operator create`, `list`, `remove`, `unlock` and `set-password` against the test database."""

from datetime import timedelta

import pytest
from click.testing import CliRunner

from crm.adapters.operators import InvalidLogin, LoginLocked, Operators
from crm.cli import main


def run(settings, *args, input=None):
    env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key, "LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(main, list(args), env=env, input=input)


def accounts(container):
    return Operators(container.application.factory.datastore, container.clock)


def test_operator_create_with_a_password_option(settings, container):
    result = run(settings, "operator", "create", "Ops@Example.com", "--password", "correct horse")
    assert result.exit_code == 0, result.output
    assert "operator ops@example.com created" in result.stderr
    assert accounts(container).log_in("ops@example.com", "correct horse").email == "ops@example.com"


def test_operator_create_prompts_twice_for_a_hidden_password(settings, container):
    result = run(settings, "operator", "create", "ops@example.com", input="correct horse\ncorrect horse\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert "correct horse" not in result.output  # hidden input is not echoed
    assert accounts(container).log_in("ops@example.com", "correct horse")


def test_operator_create_refuses_a_mismatch_a_short_password_and_a_duplicate(settings, container):
    mismatch = run(settings, "operator", "create", "ops@example.com", input="correct horse\nother horse\n")
    assert mismatch.exit_code != 0 and accounts(container).get("ops@example.com") is None
    short = run(settings, "operator", "create", "ops@example.com", "--password", "short")
    assert short.exit_code == 1 and "password" in short.output
    assert accounts(container).get("ops@example.com") is None
    assert run(settings, "operator", "create", "ops@example.com", "--password", "correct horse").exit_code == 0
    again = run(settings, "operator", "create", "OPS@example.com", "--password", "another horse")
    assert again.exit_code == 1 and "already exists" in again.output
    assert accounts(container).log_in("ops@example.com", "correct horse")


def lock(accounts, email):
    for _ in range(5):
        with pytest.raises((InvalidLogin, LoginLocked)):
            accounts.log_in(email, "wrong password")


def test_operator_list_shows_emails_creation_and_lockouts_without_hashes(settings, container, clock):
    empty = run(settings, "operator", "list")
    assert empty.exit_code == 0 and empty.stdout == "" and "no operators" in empty.stderr
    accounts(container).create("zed@example.com", "correct horse")
    accounts(container).create("ann@example.com", "correct horse")
    lock(accounts(container), "zed@example.com")

    result = run(settings, "operator", "list")

    assert result.exit_code == 0, result.output
    created = clock().strftime("%Y-%m-%d %H:%M UTC")
    until = (clock() + timedelta(minutes=15)).strftime("%Y-%m-%d %H:%M UTC")
    assert result.stdout.splitlines() == [
        "email            created               locked",
        f"ann@example.com  {created}  no",
        f"zed@example.com  {created}  until {until}",
    ]
    assert "scrypt" not in result.output


def test_operator_remove_deletes_the_operator_and_refuses_an_unknown_email(settings, container):
    accounts(container).create("ops@example.com", "correct horse")
    accounts(container).create("other@example.com", "correct horse")

    result = run(settings, "operator", "remove", "OPS@example.com")

    assert result.exit_code == 0, result.output
    assert "operator ops@example.com removed" in result.stderr
    assert accounts(container).get("ops@example.com") is None
    assert accounts(container).get("other@example.com") is not None
    again = run(settings, "operator", "remove", "ops@example.com")
    assert again.exit_code == 1 and "Error: operator ops@example.com not found" in again.stderr


def test_operator_unlock_lets_a_locked_out_operator_log_in_again(settings, container):
    accounts(container).create("ops@example.com", "correct horse")
    lock(accounts(container), "ops@example.com")
    with pytest.raises(LoginLocked):
        accounts(container).log_in("ops@example.com", "correct horse")

    result = run(settings, "operator", "unlock", "ops@example.com")

    assert result.exit_code == 0, result.output
    assert "operator ops@example.com unlocked" in result.stderr
    assert accounts(container).log_in("ops@example.com", "correct horse")
    # Check unlocking an operator who is not locked says so, and an unknown email is an error.
    assert "was not locked" in run(settings, "operator", "unlock", "ops@example.com").stderr
    unknown = run(settings, "operator", "unlock", "nobody@example.com")
    assert unknown.exit_code == 1 and "operator nobody@example.com not found" in unknown.stderr


def test_operator_set_password_prompts_twice_hidden_and_replaces_the_password(settings, container):
    accounts(container).create("ops@example.com", "correct horse")

    result = run(settings, "operator", "set-password", "ops@example.com", input="battery staple\nbattery staple\n")

    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert "battery staple" not in result.output  # hidden input is not echoed
    assert "operator ops@example.com has a new password" in result.stderr
    assert accounts(container).log_in("ops@example.com", "battery staple")
    with pytest.raises(InvalidLogin):
        accounts(container).log_in("ops@example.com", "correct horse")


def test_operator_set_password_refuses_a_short_password_a_mismatch_and_an_unknown_email(settings, container):
    accounts(container).create("ops@example.com", "correct horse")
    short = run(settings, "operator", "set-password", "ops@example.com", "--password", "short")
    assert short.exit_code == 1 and "password: must be 8 to 1024 characters" in short.stderr
    mismatch = run(settings, "operator", "set-password", "ops@example.com", input="battery staple\nother staple\n")
    assert mismatch.exit_code != 0
    # Check an unknown email is refused before any password is asked for.
    unknown = run(settings, "operator", "set-password", "nobody@example.com", input="battery staple\n" * 2)
    assert unknown.exit_code == 1 and "operator nobody@example.com not found" in unknown.stderr
    assert "Password:" not in unknown.output
    assert accounts(container).log_in("ops@example.com", "correct horse")
