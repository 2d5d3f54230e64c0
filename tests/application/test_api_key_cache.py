"""API keys are remembered briefly per process; a revocation anywhere holds everywhere within a second."""

from crm.adapters.api_keys import ApiKeys


class Ticks:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_revoked_by_another_process_is_refused_once_remembered_time_runs_out(container):
    datastore = container.event_store.factory.datastore
    ticks = Ticks()
    web, cli = ApiKeys(datastore, remember_seconds=0.5, clock=ticks), ApiKeys(datastore)
    key = cli.issue("front-desk", None)
    assert web.authenticate(key).name == "front-desk"

    cli.revoke("front-desk")  # another process: `crm apikey revoke`

    ticks.now += 0.4  # still remembered here, without asking the database
    assert web.authenticate(key) is not None
    ticks.now += 0.2
    assert web.authenticate(key) is None


def test_a_revocation_in_the_same_process_holds_at_once_and_unknown_keys_are_not_remembered(container):
    datastore = container.event_store.factory.datastore
    keys = ApiKeys(datastore, remember_seconds=60, clock=Ticks())
    key = keys.issue("front-desk", None)
    assert keys.authenticate(key) is not None
    keys.revoke("front-desk")
    assert keys.authenticate(key) is None
    # Check a key refused once works as soon as it exists (no remembered refusal).
    assert keys.authenticate("crm_not-yet") is None
    assert keys.authenticate("crm_" + "x" * 10) is None
    later = keys.issue("till", None)
    assert keys.authenticate(later).name == "till"
