"""Operators: creation, login, and the lockout after repeated failures (FakeClock)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.adapters import operators as operators_module
from crm.adapters.operators import InvalidLogin, LoginLocked, Operators, operators
from crm.write_model.errors import Conflict, InvalidInput


@pytest.fixture
def accounts(container, clock) -> Operators:
    return Operators(container.application.factory.datastore, clock)


@pytest.fixture
def cheap_hashes(monkeypatch):
    """A low-cost scrypt for the tests that log in many times (the first test checks the real cost)."""
    monkeypatch.setattr(operators_module, "PASSWORD_HASH", "scrypt:1024:8:1")


def test_an_operator_logs_in_with_the_password_which_is_stored_hashed(accounts, container):
    created = accounts.create("Ops@Example.com", "correct horse")
    # Check the email is kept case-folded and logins ignore its case.
    assert accounts.log_in("OPS@example.com", "correct horse") == created
    assert created.email == "ops@example.com" and created.actor == "operator:ops@example.com"
    with container.engine.connect() as conn:
        stored = conn.execute(select(operators.c.password_hash)).scalar_one()
    assert "correct horse" not in stored and stored.startswith("scrypt:32768:8:1$")
    with pytest.raises(InvalidLogin):
        accounts.log_in("ops@example.com", "wrong horse")
    with pytest.raises(InvalidLogin):
        accounts.log_in("nobody@example.com", "correct horse")


def test_emails_are_unique_and_passwords_long_enough(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    with pytest.raises(Conflict):
        accounts.create("OPS@example.com", "another password")
    with pytest.raises(InvalidInput) as short:
        accounts.create("new@example.com", "short")
    assert short.value.field == "password"
    with pytest.raises(InvalidInput) as bad:
        accounts.create("not-an-email", "correct horse")
    assert bad.value.field == "email"


def test_a_creation_racing_another_is_a_conflict(accounts, cheap_hashes, monkeypatch):
    accounts.create("ops@example.com", "correct horse")
    monkeypatch.setattr(accounts, "get", lambda email: None)  # the other creation lands after our check
    with pytest.raises(Conflict):
        accounts.create("ops@example.com", "another horse")


def fail(accounts, email, times):
    for _ in range(times):
        with pytest.raises(InvalidLogin):
            accounts.log_in(email, "wrong password")


def test_five_failures_in_15_minutes_lock_the_email_for_15_minutes(accounts, clock, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", 4)
    clock.advance(minutes=14)
    fail(accounts, "ops@example.com", 1)
    # Check the right password is refused while locked, and the lock lasts 15 minutes from then.
    with pytest.raises(LoginLocked) as locked:
        accounts.log_in("ops@example.com", "correct horse")
    assert locked.value.until == clock() + timedelta(minutes=15)
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(LoginLocked):
        accounts.log_in("ops@example.com", "correct horse")
    clock.advance(seconds=1)
    assert accounts.log_in("ops@example.com", "correct horse").email == "ops@example.com"


def test_failures_older_than_15_minutes_do_not_count_and_a_success_resets_the_count(accounts, clock, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", 4)
    clock.advance(minutes=15)
    fail(accounts, "ops@example.com", 4)
    assert accounts.log_in("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", 4)
    assert accounts.log_in("ops@example.com", "correct horse")


def test_the_lock_is_per_email_and_applies_to_unknown_emails_too(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "intruder@example.com", 5)
    with pytest.raises(LoginLocked):
        accounts.log_in("intruder@example.com", "anything")
    assert accounts.log_in("ops@example.com", "correct horse")
