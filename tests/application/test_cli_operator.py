"""`crm operator create` against the test database."""

from click.testing import CliRunner

from crm.adapters.operators import Operators
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
