"""Request ids and structured logs: every answer carries an id, every record made while serving
it carries the id and the actor, and nothing personal reaches a log."""

from __future__ import annotations

import io
import json
import logging
import re

from crm import logs
from tests.e2e.e2e_support import wait_for_status

ACCESS = "crm.http.requests"


def access_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


def test_an_answer_carries_a_new_request_id_and_one_access_record(admin, restaurant, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    response = admin.get(f"/api/restaurants/{restaurant['id']}/")

    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    [record] = access_records(caplog)
    assert (record.request_id, record.actor) == (request_id, "admin-test")
    assert (record.method, record.route, record.status) == ("GET", "/api/restaurants/<uuid:restaurant_id>/", 200)
    assert record.duration_ms >= 0
    assert restaurant["id"] not in record.getMessage() + str(record.route)  # the route, not the path


def test_a_callers_request_id_is_kept_when_it_is_a_plain_token(client, admin, caplog):
    caplog.set_level(logging.INFO, logger=ACCESS)
    assert client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.1:2"}).headers["X-Request-ID"] == "lb-7f3a.1:2"
    for hostile in ("two words", "x" * 129, "caf\u00e9", "a;b", ""):
        answered = client.get("/healthz", headers={"X-Request-ID": hostile}).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", answered), hostile
    # Check an answer refused before authentication still has one, and no actor.
    refused = client.get("/api/restaurants/")
    assert refused.status_code == 401 and refused.headers["X-Request-ID"]
    assert not hasattr(access_records(caplog)[-1], "actor")


def test_json_lines_carry_the_context(caplog):
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        logs.configure("INFO", "json")
        root.handlers[0].setStream(stream)
        with logs.context(request_id="r-1", campaign_id="c-1"):
            logging.getLogger("crm.test").info("sent %d", 3, extra={"batch": 2})
        logging.getLogger("crm.test").warning("outside")
    finally:
        root.handlers[:], level = before
        root.setLevel(level)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message", "request_id", "campaign_id", "batch")} == {
        "level": "INFO",
        "logger": "crm.test",
        "message": "sent 3",
        "request_id": "r-1",
        "campaign_id": "c-1",
        "batch": 2,
    }
    assert "time" in first and "request_id" not in second and second["level"] == "WARNING"


def test_a_whole_campaign_logs_nothing_personal(admin, make, restaurant, clock, embedded, caplog):
    caplog.set_level(logging.DEBUG)
    people = [
        make.customer(restaurant, email=f"zorblatt{n}@example.org", first_name="Quintessa", last_name="Vorhees")
        for n in range(3)
    ]
    clock.advance(days=31)
    campaign = make.campaign(restaurant, message_template="Dear {first_name}, the saffron risotto awaits")
    make.control(campaign, "run")
    wait_for_status(admin, campaign, "completed")
    admin.post(f"/api/customers/{people[0]['id']}/unsubscribe/")

    formatter = logging.Formatter("%(message)s %(args)s")
    text = "\n".join(formatter.format(r) + " " + json.dumps(r.__dict__, default=str) for r in caplog.records).lower()
    assert "outreach sent to console" in text  # the campaign did log its sends
    for needle in ("zorblatt", "quintessa", "vorhees", "saffron", "example.org"):
        assert needle not in text, needle
    tasks = [r for r in caplog.records if getattr(r, "campaign_id", None) == campaign["id"]]
    assert tasks, "no record of the campaign's tasks carries its id"
