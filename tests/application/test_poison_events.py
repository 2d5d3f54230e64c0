"""Poison events: an event a projection cannot apply is kept as a dead letter with its error; the
projection stops before it or skips it (PROJECTION_ON_ERROR), `crm projections status` and
/readyz show it, and `crm projections retry` applies it once fixed."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from crm.cli import main
from crm.http import create_app
from crm.projectors.engine import dead_letters


@pytest.fixture
def poisoned(container, monkeypatch):
    """The restaurants projection fails on the events of the restaurants named in the set."""
    projector = container.runner.projectors["restaurants"]
    original = type(projector).apply
    names: set[str] = set()

    def apply(events, session):
        for event in events:
            if getattr(event, "name", None) in names:
                raise ValueError(f"cannot project {event.name}")
        return original(projector, events, session)

    monkeypatch.setattr(projector, "apply", apply)
    return names


def listed(container) -> set[str]:
    return {r["name"] for r in container.queries.restaurants(None, 1, 50).items}


def open_three(application, poisoned) -> list:
    """Three restaurants opened as a view opens them (reading each back); the second is bad."""
    poisoned.add("Bad Bistro")
    return [application.open_restaurant(name, actor="admin") for name in ("Aroma", "Bad Bistro", "Cucina")]


def position_of(container, stream_id) -> int:
    return next(
        n.id for n in container.application.recorder.select_notifications(1, 100) if n.originator_id == stream_id
    )


def test_stop_keeps_the_event_and_stops_before_it_until_retried(container, application, poisoned, settings):
    _, bad_id, _ = open_three(application, poisoned)
    bad = position_of(container, bad_id)

    assert listed(container) == {"Aroma"}  # stopped before the bad one: the next waits too
    [letter] = dead_letters.unresolved(container.engine)["restaurants"]
    assert (letter["position"], letter["originator_id"]) == (bad, bad_id)
    assert letter["error"] == "ValueError: cannot project Bad Bistro"
    ready = create_app(container=container).test_client().get("/readyz")
    assert ready.status_code == 503
    assert (
        "events they cannot apply (crm projections status): restaurants"
        in ready.get_json()["checks"]["projections"]["error"]
    )
    env = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key}
    status = CliRunner().invoke(main, ["projections", "status"], env=env)
    assert (
        f"restaurants: cannot apply event {bad} (crm.write_model.restaurants:Restaurant.Opened, stopped before it)"
        in status.output
    )

    poisoned.clear()  # the fix
    retried = CliRunner().invoke(main, ["projections", "retry", "restaurants"], env=env)

    assert retried.exit_code == 0, retried.output
    assert (
        retried.output.strip()
        == "restaurants: 1 released and 2 events applied since, 0 skipped events applied, 0 still failing"
    )
    assert listed(container) == {"Aroma", "Bad Bistro", "Cucina"}
    assert dead_letters.unresolved(container.engine) == {}


def test_skip_keeps_the_event_and_goes_on_and_retry_applies_it_out_of_order(container, application, poisoned):
    container.runner.on_error = "skip"
    _, bad_id, _ = open_three(application, poisoned)
    bad = position_of(container, bad_id)

    assert listed(container) == {"Aroma", "Cucina"}
    [letter] = dead_letters.unresolved(container.engine)["restaurants"]
    assert letter["position"] == bad
    assert container.runner.retry("restaurants") == {"released": 0, "applied": 0, "failed": 1}  # not fixed yet
    assert dead_letters.unresolved(container.engine)["restaurants"][0]["position"] == bad

    poisoned.clear()

    assert container.runner.retry("restaurants") == {"released": 0, "applied": 1, "failed": 0}
    assert listed(container) == {"Aroma", "Bad Bistro", "Cucina"}
    assert dead_letters.unresolved(container.engine) == {}


def test_a_kept_error_holds_no_address():
    error = ValueError('duplicate key (email)=(ann.lee@example.com) for "Ann"')
    assert "example.com" not in dead_letters.describe(error)
    assert dead_letters.describe(error).startswith("ValueError: duplicate key (email)=(<address>)")
