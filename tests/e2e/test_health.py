"""/healthz and /readyz: public, JSON, nothing personal; /readyz checks what serving needs."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import update

from crm import bootstrap
from crm.http import create_app
from crm.projectors import all_projectors
from crm.read_model.tables import projection_tracking


def test_healthz_answers_without_a_key(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database_and_the_projections(client, make, restaurant):
    make.customer(restaurant, email="ready@example.com", first_name="Ready")

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "projections"}  # no broker: the embedded worker
    assert body["checks"]["database"] == {"ok": True}
    projections = body["checks"]["projections"]
    assert projections["ok"] is True
    assert set(projections["projections"]) == {projector.name for projector in all_projectors()}
    for row in projections["projections"].values():
        assert (row["behind"], row["lag_seconds"]) == (0, 0.0)
    assert "ready@example.com" not in response.get_data(as_text=True)


def test_readyz_is_503_when_a_projection_left_an_event_waiting_too_long(client, container, make, restaurant, clock):
    make.customer(restaurant)
    with container.engine.begin() as conn:  # as if the customers projection had stopped before it
        conn.execute(update(projection_tracking).where(projection_tracking.c.name == "customers").values(position=0))
    clock.advance(seconds=29)
    assert client.get("/readyz").status_code == 200  # waiting, but not for too long yet
    clock.advance(seconds=2)

    response = client.get("/readyz")

    assert response.status_code == 503
    projections = response.get_json()["checks"]["projections"]
    assert projections["ok"] is False
    assert projections["error"] == "behind by more than 30 s: customers"
    assert projections["projections"]["customers"]["behind"] >= 1
    assert projections["projections"]["customers"]["lag_seconds"] >= 31


def test_readyz_is_503_when_the_broker_does_not_answer(settings, clock):
    container = bootstrap.build(replace(settings, broker_url="redis://127.0.0.1:1/0"), clock=clock)
    try:
        response = create_app(container=container).test_client().get("/readyz")
    finally:
        container.close()
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["broker"]["ok"] is False and checks["broker"]["error"].startswith("unreachable")
    assert checks["database"] == {"ok": True}
