"""/metrics: Prometheus text with requests, commands, projections, outreach and campaigns; open
to this host, else only with an admin key."""

from __future__ import annotations

import re

from tests.e2e.e2e_support import wait_for_status

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (labels in any order), or fail.

    (This process's instruments count every test before this one: compare before and after.)"""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line) or re.fullmatch(rf"{name} (\S+)", line)
        if not match:
            continue
        if match.lastindex == 1:
            if not labels:
                return float(match.group(1))
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    raise AssertionError(f"no sample {name} {labels}")


def counted(text: str, name: str, **labels: str) -> float:
    try:
        return sample(text, name, **labels)
    except AssertionError:
        return 0.0


def test_metrics_count_requests_commands_projections_and_outreach(client, admin, make, restaurant, clock, embedded):
    before = client.get("/metrics").get_data(as_text=True)
    customer = make.customer(restaurant, email="metric.person@example.com")
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    wait_for_status(admin, campaign, "completed")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    for name, labels, more in (
        ("crm_http_request_duration_seconds_count", {"method": "POST", "route": "/api/customers/", "status": "201"}, 1),
        ("crm_command_duration_seconds_count", {"command": "register_customer", "outcome": "ok"}, 1),
        ("crm_command_duration_seconds_count", {"command": "run_campaign", "outcome": "ok"}, 1),
    ):
        assert sample(text, name, **labels) - counted(before, name, **labels) == more, (name, labels)
    assert sample(text, "crm_database_up") == 1
    for projection in ("customers", "campaigns", "restaurants"):
        assert sample(text, "crm_projection_position", projection=projection) > 0
        assert sample(text, "crm_projection_events_behind", projection=projection) == 0
    assert sample(text, "crm_outreach_records", status="sent") == 1
    assert sample(text, "crm_campaigns", status="completed") == 1
    assert "metric.person" not in text and customer["id"] not in text


def test_a_refused_command_is_counted_as_an_error(client, admin, make, restaurant):
    campaign = make.campaign(restaurant)
    labels = {"command": "pause_campaign", "outcome": "error"}
    before = counted(client.get("/metrics").get_data(as_text=True), "crm_command_duration_seconds_count", **labels)
    assert admin.post(f"/api/campaigns/{campaign['id']}/pause/").status_code == 409
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "crm_command_duration_seconds_count", **labels) == before + 1


def test_from_outside_the_allowed_networks_metrics_need_an_admin_key(client, container, restaurant):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 401
    restaurant_key = container.api_keys.issue("one-restaurant", __import__("uuid").UUID(restaurant["id"]))
    headers = {"Authorization": f"Bearer {restaurant_key}"}
    assert client.get("/metrics", environ_base=OUTSIDE, headers=headers).status_code == 401
    admin_key = container.api_keys.issue("scraper", None)
    answered = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": f"Bearer {admin_key}"})
    assert answered.status_code == 200 and "crm_database_up 1.0" in answered.get_data(as_text=True)
