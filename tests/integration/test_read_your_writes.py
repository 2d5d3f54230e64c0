"""Background mode: the web process does not project; a command's answer waits for `crm projector`."""

from dataclasses import replace
from uuid import UUID

import pytest

from crm import bootstrap
from crm.http import create_app
from tests.integration.workers import ProjectorProcess, wait_until


@pytest.fixture
def web(settings, container, clock):
    """A web app in background mode that waits at most 3 s for the projector."""
    built = bootstrap.build(replace(settings, projection_mode="background", read_your_writes_timeout=3.0), clock=clock)
    app = create_app(container=built)
    key = built.api_keys.issue("ops", None)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    yield client
    built.close()


@pytest.fixture
def projector(settings, tmp_path):
    process = ProjectorProcess(settings, tmp_path / "projector.log").start()
    yield process
    process.stop()


def test_each_answer_already_shows_the_command_applied_by_the_projector_process(web, projector):
    wait_until(lambda: "projector active for" in projector.log(), 30, message=projector.log())
    restaurant = web.post("/api/restaurants/", json={"name": "Pizza Palace"})
    assert restaurant.status_code == 201 and "X-Read-Model-Stale" not in restaurant.headers
    assert restaurant.get_json()["name"] == "Pizza Palace"
    customer = web.post(
        "/api/customers/", json={"restaurant": restaurant.get_json()["id"], "email": "ann@example.com"}
    ).get_json()
    for spend in (1200, 800):
        visit = web.post("/api/visits/", json={"customer": customer["id"], "spend_cents": spend})
        assert visit.status_code == 201 and "X-Read-Model-Stale" not in visit.headers
        # Check the visit can be corrected at once: its customer is found through the projected visits.
        assert web.patch(f"/api/visits/{visit.get_json()['id']}/", json={"spend_cents": spend + 1}).status_code == 200
    # Check a read right after the commands sees all of them, though this process projected nothing.
    fetched = web.get(f"/api/customers/{customer['id']}/").get_json()
    assert fetched["total_spend_cents"] == 2002 and fetched["visit_count"] == 2
    assert any("customers applied" in line for line in projector.log().splitlines())


def test_without_a_projector_the_answer_is_a_success_marked_stale(settings, container, clock):
    built = bootstrap.build(replace(settings, projection_mode="background", read_your_writes_timeout=0.3), clock=clock)
    try:
        client = create_app(container=built).test_client()
        key = built.api_keys.issue("ops", None)
        response = client.post(
            "/api/restaurants/", json={"name": "Nobody projects me"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 201
        assert response.headers["X-Read-Model-Stale"] == "true"
        assert set(response.get_json()) == {"id"}  # committed: the id is real; the row is not readable yet
        assert built.application.repository.get(UUID(response.get_json()["id"])).name == "Nobody projects me"
    finally:
        built.close()
