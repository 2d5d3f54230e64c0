"""Operators: creation, login, and the lockout after repeated failures (FakeClock)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm import bootstrap
from crm.adapters import operators as operators_module
from crm.adapters.operators import MAX_FAILURES, InvalidLogin, LoginLocked, OperatorNotFound, Operators, operators
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


def test_the_right_password_on_the_last_allowed_attempt_logs_in_and_leaves_no_lock(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", MAX_FAILURES - 1)
    assert accounts.log_in("ops@example.com", "correct horse")
    # Check the count started afresh: four more failures still do not lock.
    fail(accounts, "ops@example.com", MAX_FAILURES - 1)
    assert accounts.log_in("ops@example.com", "correct horse")


def test_operators_are_listed_by_email_with_their_lockouts(accounts, clock, cheap_hashes):
    accounts.create("zed@example.com", "correct horse")
    accounts.create("ann@example.com", "correct horse")
    fail(accounts, "zed@example.com", MAX_FAILURES)
    assert accounts.all() == [
        {"email": "ann@example.com", "created_at": clock(), "locked_until": None},
        {"email": "zed@example.com", "created_at": clock(), "locked_until": clock() + timedelta(minutes=15)},
    ]
    # Check an expired lock is shown as none.
    clock.advance(minutes=15)
    assert [row["locked_until"] for row in accounts.all()] == [None, None]


def test_unlock_lifts_the_lock_and_forgets_the_failures(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", MAX_FAILURES)
    assert accounts.unlock("OPS@example.com") is True
    assert accounts.log_in("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", MAX_FAILURES - 1)
    assert accounts.unlock("ops@example.com") is False
    # Check the four failures were forgotten: four more do not lock.
    fail(accounts, "ops@example.com", MAX_FAILURES - 1)
    assert accounts.log_in("ops@example.com", "correct horse")


def test_set_password_replaces_it_under_the_creation_rules(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    accounts.set_password("OPS@example.com", "battery staple")
    assert accounts.log_in("ops@example.com", "battery staple")
    with pytest.raises(InvalidLogin):
        accounts.log_in("ops@example.com", "correct horse")
    with pytest.raises(InvalidInput) as short:
        accounts.set_password("ops@example.com", "short")
    assert short.value.field == "password"


def test_a_removed_operator_cannot_log_in_and_a_new_one_of_that_email_starts_unlocked(accounts, cheap_hashes):
    accounts.create("ops@example.com", "correct horse")
    fail(accounts, "ops@example.com", MAX_FAILURES)
    accounts.remove("OPS@example.com")
    assert accounts.get("ops@example.com") is None
    accounts.create("ops@example.com", "battery staple")
    assert accounts.log_in("ops@example.com", "battery staple")


@pytest.mark.parametrize(
    "command",
    [
        lambda accounts: accounts.remove("nobody@example.com"),
        lambda accounts: accounts.unlock("nobody@example.com"),
        lambda accounts: accounts.set_password("nobody@example.com", "correct horse"),
    ],
    ids=["remove", "unlock", "set_password"],
)
def test_commands_on_an_unknown_email_are_refused(accounts, command):
    with pytest.raises(OperatorNotFound) as missing:
        command(accounts)
    assert str(missing.value) == "operator nobody@example.com not found"


def test_failed_logins_racing_from_several_processes_let_exactly_five_through(settings, container, clock, cheap_hashes):
    # Two more containers stand for other web processes: their own engines, connections and
    # in-process locks, so only the database can keep the count.
    others = [bootstrap.build(settings, clock=clock) for _ in range(2)]
    processes = [container.operators, *(other.operators for other in others)]
    processes[0].create("ops@example.com", "correct horse")
    attempts = 24
    start = threading.Barrier(attempts)

    def attempt(n: int) -> str:
        start.wait()
        try:
            processes[n % len(processes)].log_in("ops@example.com", "wrong password")
        except InvalidLogin:
            return "checked"
        except LoginLocked:
            return "locked"
        return "logged in"

    try:
        with ThreadPoolExecutor(attempts) as pool:
            outcomes = list(pool.map(attempt, range(attempts)))
    finally:
        for other in others:
            other.close()
    # Check exactly MAX_FAILURES passwords were checked, every other attempt was refused unchecked,
    # and the email is locked now, even for the right password.
    assert outcomes.count("checked") == MAX_FAILURES == 5
    assert outcomes.count("locked") == attempts - MAX_FAILURES
    with pytest.raises(LoginLocked):
        container.operators.log_in("ops@example.com", "correct horse")
