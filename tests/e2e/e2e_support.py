"""Helpers shared by the HTTP tier: factories that go through the API and small assertions."""

from __future__ import annotations

import io
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tests.commands import Caller

RESTAURANT_FIELDS = {
    "id",
    "name",
    "timezone",
    "created_at",
    "frequency_cap_messages",
    "frequency_cap_days",
    "quiet_hours_start",
    "quiet_hours_end",
}
CUSTOMER_FIELDS = {
    "id",
    "restaurant",
    "restaurant_name",
    "email",
    "first_name",
    "last_name",
    "total_spend_cents",
    "total_spend_dollars",
    "visit_count",
    "last_visit_at",
    "created_at",
    "email_consent",
    "email_consent_changed_at",
    "external_id",
}
VISIT_FIELDS = {"id", "customer", "customer_email", "visited_at", "spend_cents", "spend_dollars"}
PAGE_FIELDS = {"count", "next", "previous", "results"}
CAMPAIGN_FIELDS = {
    "id",
    "restaurant",
    "restaurant_name",
    "name",
    "status",
    "segment_type",
    "segment_value",
    "segment_rule",
    "segment",
    "subject",
    "message_template",
    "created_at",
    "started_at",
    "completed_at",
    "failed_retried_at",
    "scheduled_for",
    "recurrence",
    "recurrence_cooldown_days",
    "series",
    "stats",
}
STATS_FIELDS = {"audience", "excluded_unsubscribed", "excluded_cooldown", "queued", "sent", "failed", "skipped"}
OUTREACH_FIELDS = {
    "id",
    "campaign",
    "campaign_name",
    "customer",
    "customer_email",
    "channel",
    "status",
    "error_message",
    "attempts",
    "sent_at",
    "created_at",
}
CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "cancelled", "completed")
CONTROLS = ("run", "unschedule", "pause", "resume", "cancel", "retry-failed")  # the bodiless ones
SCHEDULED_FOR = datetime.now(timezone.utc) + timedelta(days=1)  # when bring_to schedules: ahead of every test clock


# The list endpoints that take page and filter parameters.
LISTS = (
    "/api/restaurants/",
    "/api/customers/",
    "/api/visits/",
    "/api/customers/inactive/",
    "/api/customers/high_spenders/",
)


def when(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp from a response, as an aware datetime (None stays None)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"timestamp without a time zone: {value!r}"
    return parsed


def iso(moment: datetime) -> str:
    return moment.isoformat()


def ids(page: dict) -> list[str]:
    return [row["id"] for row in page["results"]]


def assert_invalid(response, *fields: str) -> dict:
    """A 400 in the contract's shape, naming at least `fields` in `errors`."""
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert isinstance(body.get("message"), str) and body["message"]
    errors = body.get("errors")
    assert isinstance(errors, dict) and errors, body
    for name, messages in errors.items():
        assert isinstance(name, str)
        assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages), body
    for field in fields:
        assert field in errors, (field, body)
    return body


def assert_error(response, status: int) -> dict:
    """A non-400 error: the given status and a JSON body with a message."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], body
    return body


STALE_HEADER = "X-Read-Model-Stale"


def assert_created(response) -> dict:
    """A 201 answered with the whole resource, read back at once (read-your-writes, inline mode)."""
    assert response.status_code == 201, (response.status_code, response.get_data(as_text=True))
    assert STALE_HEADER not in response.headers, "the read model lagged behind a write"
    return response.get_json()


class Make:
    """Create resources through the API and return their JSON; every call asserts a fresh 201."""

    def __init__(self, admin):
        self.admin = admin

    def restaurant(self, name: str = "Trattoria", timezone: str | None = None, api=None, **fields) -> dict:
        body = {"name": name, **fields} if timezone is None else {"name": name, "timezone": timezone, **fields}
        return assert_created((api or self.admin).post("/api/restaurants/", json=body))

    def customer(self, restaurant: dict | None, email: str | None = None, api=None, **names) -> dict:
        body = {"email": email or f"guest-{uuid.uuid4().hex[:10]}@example.com", **names}
        if restaurant is not None:
            body["restaurant"] = restaurant["id"]
        return assert_created((api or self.admin).post("/api/customers/", json=body))

    def visit(self, customer: dict, spend_cents: int, visited_at: datetime | None = None, api=None) -> dict:
        body: dict = {"spend_cents": spend_cents}
        if visited_at is not None:
            body["visited_at"] = iso(visited_at)
        return assert_created((api or self.admin).post(f"/api/customers/{customer['id']}/add_visit/", json=body))

    def campaign(self, restaurant: dict | None, api=None, **fields) -> dict:
        """A draft campaign: win back customers inactive for 30 days, unless `fields` say otherwise."""
        body = {
            "name": "Win back",
            "segment_type": "inactive_days",
            "segment_value": 30,
            "message_template": "Hi {first_name}, we miss you!",
            **fields,
        }
        if restaurant is not None:
            body["restaurant"] = restaurant["id"]
        created = assert_created((api or self.admin).post("/api/campaigns/", json=body))
        assert created["status"] == "draft", created
        return created

    def control(self, campaign: dict, action: str, api=None) -> dict:
        """POST a control that must succeed (202 for run, else 200); the campaign it answers with."""
        response = (api or self.admin).post(f"/api/campaigns/{campaign['id']}/{action}/")
        expected = 202 if action == "run" else 200
        assert response.status_code == expected, (action, response.status_code, response.get_json())
        assert STALE_HEADER not in response.headers, "the read model lagged behind a control"
        return response.get_json()

    def schedule(self, campaign: dict, scheduled_for: datetime, api=None) -> dict:
        """Schedule a draft (must succeed: 200); the campaign it answers with."""
        body = {"scheduled_for": scheduled_for.isoformat()}
        response = (api or self.admin).post(f"/api/campaigns/{campaign['id']}/schedule/", json=body)
        assert response.status_code == 200, (response.status_code, response.get_json())
        assert STALE_HEADER not in response.headers, "the read model lagged behind a schedule"
        return response.get_json()

    def upload(self, restaurant: dict | None, kind: str, content: bytes, filename: str = "rows.csv", api=None) -> dict:
        """Start an import of a CSV file (must be accepted: 202); the import it answers with."""
        form: dict = {"file": (io.BytesIO(content), filename), "kind": kind}
        if restaurant is not None:
            form["restaurant"] = restaurant["id"]
        response = (api or self.admin).post("/api/imports/", data=form)
        assert response.status_code == 202, (response.status_code, response.get_data(as_text=True))
        assert STALE_HEADER not in response.headers, "the read model lagged behind an upload"
        return response.get_json()

    def get(self, path: str, api=None, **kwargs) -> dict:
        response = (api or self.admin).get(path, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.get_json())
        return response.get_json()


# -- walking the URL map ------------------------------------------------------------------

_ARGUMENT = re.compile(r"<(?:([a-zA-Z_][\w]*)(?:\([^)]*\))?:)?([a-zA-Z_]\w*)>")

# Which kind of resource each path argument names.
ID_ARGUMENTS = {
    "restaurant_id": "restaurant",
    "customer_id": "customer",
    "visit_id": "visit",
    "campaign_id": "campaign",
    "outreach_id": "outreach",
    "segment_id": "segment",
    "import_id": "import",
}
ID_KINDS = tuple(dict.fromkeys(ID_ARGUMENTS.values()))

# A body the route would accept for a resource the caller can see (so a 404 means "not found").
VALID_BODIES = {
    ("/api/restaurants/<uuid:restaurant_id>/", "PUT"): {"name": "Renamed", "timezone": "UTC"},
    ("/api/restaurants/<uuid:restaurant_id>/", "PATCH"): {"name": "Renamed"},
    ("/api/customers/<uuid:customer_id>/", "PUT"): {"email": "renamed@example.com", "first_name": "Re"},
    ("/api/customers/<uuid:customer_id>/", "PATCH"): {"first_name": "Renamed"},
    ("/api/customers/<uuid:customer_id>/add_visit/", "POST"): {"spend_cents": 100},
    ("/api/visits/<uuid:visit_id>/", "PUT"): {"spend_cents": 1},
    ("/api/visits/<uuid:visit_id>/", "PATCH"): {"spend_cents": 1},
    ("/api/campaigns/<uuid:campaign_id>/", "PUT"): {
        "name": "Renamed",
        "segment_type": "high_spenders",
        "segment_value": 100,
        "message_template": "Hello {first_name}",
    },
    ("/api/campaigns/<uuid:campaign_id>/", "PATCH"): {"name": "Renamed"},
    ("/api/segments/<uuid:segment_id>/", "PUT"): {
        "name": "Renamed",
        "rule": {"field": "visit_count", "op": "gte", "value": 1},
    },
    ("/api/segments/<uuid:segment_id>/", "PATCH"): {"name": "Renamed"},
    ("/api/campaigns/<uuid:campaign_id>/schedule/", "POST"): {"scheduled_for": SCHEDULED_FOR.isoformat()},
}
# POSTs that take no body at all: the campaign controls.
BODILESS = {(f"/api/campaigns/<uuid:campaign_id>/{action}/", "POST") for action in CONTROLS} | {
    (f"/api/customers/<uuid:customer_id>/{change}/", "POST") for change in ("unsubscribe", "resubscribe", "erase")
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass(frozen=True)
class IdCall:
    """One method of one /api/ route that takes resource ids in its path."""

    rule: str
    method: str
    arguments: tuple[str, ...]
    body: dict | None

    def path(self, ids_by_kind: dict[str, str]) -> str:
        return _ARGUMENT.sub(lambda m: str(ids_by_kind[ID_ARGUMENTS[m.group(2)]]), self.rule)

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def id_calls(app) -> list[IdCall]:
    """Every method (but HEAD/OPTIONS) of every /api/ rule with a <uuid:...> argument.

    Fails loudly on what it cannot call correctly: an unknown argument name, a non-UUID
    argument outside the docs, or a body-taking method with no known valid body.
    """
    calls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        arguments = _ARGUMENT.findall(rule.rule)
        if not arguments:
            continue
        if not any(converter == "uuid" for converter, _ in arguments):
            assert rule.rule.startswith("/api/docs/"), f"{rule.rule}: an /api/ argument that is not a UUID"
            continue
        for converter, name in arguments:
            assert converter == "uuid", f"{rule.rule}: argument {name!r} is not a <uuid:...>"
            assert name in ID_ARGUMENTS, f"{rule.rule}: unknown id argument {name!r}; teach the e2e tests about it"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = VALID_BODIES.get((rule.rule, method))
            if method in _BODY_METHODS and (rule.rule, method) not in BODILESS:
                assert body is not None, f"{method} {rule.rule}: add a valid body to VALID_BODIES"
            calls.append(IdCall(rule.rule, method, tuple(name for _, name in arguments), body))
    return calls


def call(api, id_call: IdCall, ids_by_kind: dict[str, str]):
    kwargs = {} if id_call.body is None else {"json": id_call.body}
    return api.request(id_call.method, id_call.path(ids_by_kind), **kwargs)


def control_of(id_call: IdCall) -> str | None:
    """The campaign control an id call is (run, pause, resume or cancel), else None."""
    for action in CONTROLS:
        if id_call.rule == f"/api/campaigns/<uuid:campaign_id>/{action}/":
            return action
    return None


# -- campaigns ----------------------------------------------------------------------------


def assert_conflict_names(response, status: str) -> dict:
    """A 409 whose message names the campaign's current status."""
    body = assert_error(response, 409)
    assert re.search(rf"\b{status}\b", body["message"]), body
    return body


def bring_to(make: Make, container, campaign: dict, status: str) -> dict:
    """Move a draft campaign to `status` through the controls, with no worker running.

    "completed" is reached the way the worker reaches it for an empty audience: the campaign
    is started, then its (empty) audience is fixed, which completes it at once.
    """
    assert status in CAMPAIGN_STATUSES, status
    if status == "draft":
        return make.get(f"/api/campaigns/{campaign['id']}/")
    if status == "cancelled":
        return make.control(campaign, "cancel")
    if status == "scheduled":
        return make.schedule(campaign, SCHEDULED_FOR)
    make.control(campaign, "run")
    if status == "paused":
        make.control(campaign, "pause")
    if status == "completed":
        Caller(container).plan_audience(uuid.UUID(campaign["id"]), [])
    current = make.get(f"/api/campaigns/{campaign['id']}/")
    assert current["status"] == status, current
    return current


def queue_outreach(make: Make, container, campaign: dict, customers: list[dict]) -> list:
    """Start `campaign` and queue one outreach record per customer, as a worker would (no sending).

    Returns the write model's Outreach records (one batch, in the order of `customers`).
    """
    if make.get(f"/api/campaigns/{campaign['id']}/")["status"] == "draft":
        make.control(campaign, "run")
    campaign_id = uuid.UUID(campaign["id"])
    application = Caller(container)
    application.plan_audience(campaign_id, [uuid.UUID(c["id"]) for c in customers])
    records = application.open_batch(campaign_id, 0)
    container.read_side.wait_for(container.runner.head())  # the records, as a worker's projector shows them
    by_customer = {str(r.customer_id): r for r in records}
    assert set(by_customer) == {c["id"] for c in customers}
    return [by_customer[c["id"]] for c in customers]


def completed_with_failures(make: Make, container, restaurant: dict, failing: int = 1, sent: int = 1) -> dict:
    """A campaign completed as a worker completes it, `failing` of its recipients failed."""
    campaign = make.campaign(restaurant)
    guests = [make.customer(restaurant) for _ in range(failing + sent)]
    records = queue_outreach(make, container, campaign, guests)
    application = Caller(container)
    for record in records[:failing]:
        record.record_failed(3, "gave up after 3 attempts: 421 busy", "worker", container.clock())
    for record in records[failing:]:
        record.record_sent(1, "worker", container.clock())
    application.record_outcomes(records)
    application.finish_batch(uuid.UUID(campaign["id"]), 0)
    done = make.get(f"/api/campaigns/{campaign['id']}/")
    assert (done["status"], done["stats"]["failed"]) == ("completed", failing), done
    return done


def wait_for_status(api, campaign: dict, status: str, timeout: float = 20.0) -> dict:
    """Poll GET /api/campaigns/{id}/ until the campaign has `status` (fails after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        response = api.get(f"/api/campaigns/{campaign['id']}/")
        assert response.status_code == 200, response.get_json()
        current = response.get_json()
        if current["status"] == status:
            return current
        assert time.monotonic() < deadline, f"campaign not {status} after {timeout} s: {current}"
        time.sleep(0.05)


# -- campaign bodies shared by the campaign modules -------------------------------------

README_EXAMPLE = {
    "name": "Win Back Inactive Customers",
    "status": "draft",
    "segment_type": "inactive_days",
    "segment_value": 30,
    "message_template": "Hi {first_name}, we miss you! Come back for 20% off.",
}
BODY = {
    "name": "Big spenders",
    "segment_type": "high_spenders",
    "segment_value": 50_000,
    "subject": "Thanks from {restaurant_name}",
    "message_template": "Dear {first_name} {last_name}",
}
NO_STATS = {
    "audience": None,
    "excluded_unsubscribed": 0,
    "excluded_cooldown": 0,
    "queued": 0,
    "sent": 0,
    "failed": 0,
    "skipped": 0,
}


def body_for(restaurant: dict, **changes) -> dict:
    return {"restaurant": restaurant["id"], **BODY, **changes}


def campaigns(admin, **query) -> dict:
    response = admin.get("/api/campaigns/", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
