"""Consent to marketing email, erasure and export, through the API."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm.read_model.tables import customers
from tests.e2e.e2e_support import CUSTOMER_FIELDS, assert_error, wait_for_status, when


def test_unsubscribe_and_resubscribe_change_consent_once_each(admin, make, restaurant, clock):
    customer = make.customer(restaurant, first_name="Ada")
    path = f"/api/customers/{customer['id']}/"
    # Check a new customer is subscribed since registration.
    assert (customer["email_consent"], when(customer["email_consent_changed_at"])) == ("subscribed", clock.now)

    clock.advance(hours=1)
    first = admin.post(f"{path}unsubscribe/")
    assert first.status_code == 200, first.get_json()
    assert set(first.get_json()) == CUSTOMER_FIELDS
    assert (first.get_json()["email_consent"], when(first.get_json()["email_consent_changed_at"])) == (
        "unsubscribed",
        clock.now,
    )
    # Check a repeat is a no-op: same answer, nothing new in the history.
    clock.advance(hours=1)
    again = admin.post(f"{path}unsubscribe/")
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert make.get(path)["email_consent"] == "unsubscribed"

    back = admin.post(f"{path}resubscribe/")
    assert back.status_code == 200
    assert (back.get_json()["email_consent"], when(back.get_json()["email_consent_changed_at"])) == (
        "subscribed",
        clock.now,
    )
    events = make.get(f"{path}history/")["events"]
    assert [(e["type"], e["data"]) for e in events[1:]] == [
        ("Unsubscribed", {"source": "api", "campaign_id": None}),
        ("Resubscribed", {"source": "api"}),
    ]


def test_consent_of_another_restaurant_or_a_deleted_customer_is_not_found(admin, make, restaurant, key_of):
    customer = make.customer(restaurant)
    other = key_of(make.restaurant("Elsewhere"))
    for change in ("unsubscribe", "resubscribe", "erase"):
        assert_error(other.post(f"/api/customers/{customer['id']}/{change}/"), 404)
    assert_error(other.get(f"/api/customers/{customer['id']}/export/"), 404)
    assert make.get(f"/api/customers/{customer['id']}/")["email_consent"] == "subscribed"
    assert admin.delete(f"/api/customers/{customer['id']}/").status_code == 204
    assert_error(admin.post(f"/api/customers/{customer['id']}/unsubscribe/"), 404)
    assert_error(admin.post(f"/api/customers/{uuid.uuid4()}/unsubscribe/"), 404)


def test_a_campaign_leaves_out_unsubscribed_customers_and_counts_them(admin, make, restaurant, clock, embedded):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(4)]
    clock.advance(days=31)
    for guest in guests[:2]:
        assert admin.post(f"/api/customers/{guest['id']}/unsubscribe/").status_code == 200
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")

    done = wait_for_status(admin, campaign, "completed")

    assert done["stats"] == {
        "audience": 2,
        "excluded_unsubscribed": 2,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 0,
    }
    records = make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]
    assert {r["customer"] for r in records} == {g["id"] for g in guests[2:]}


def test_erasure_keeps_ids_and_totals_and_nothing_personal(admin, make, restaurant, clock, container):
    customer = make.customer(restaurant, email="Zephyrine.Quill@example.com", first_name="Zephyrine", last_name="Quill")
    make.visit(customer, 1_250)
    path = f"/api/customers/{customer['id']}/"
    assert admin.post(f"{path}unsubscribe/").status_code == 200

    erased = admin.post(f"{path}erase/")

    assert erased.status_code == 204, erased.get_json()
    assert_error(admin.get(path), 404)
    assert_error(admin.get(f"{path}export/"), 404)
    # Check the history still tells what happened, without the person.
    events = make.get(f"{path}history/")["events"]
    assert [e["type"] for e in events] == ["Registered", "VisitRecorded", "Unsubscribed", "Erased"]
    registered = events[0]["data"]
    assert (registered["email"], registered["first_name"], registered["last_name"]) == ("[erased]",) * 3
    assert registered["restaurant_id"] == restaurant["id"]
    assert events[1]["data"]["spend_cents"] == 1_250
    assert "zephyrine" not in str(events).lower()
    # Check a repeat changes nothing, and the visits and totals stay without an address.
    assert admin.post(f"{path}erase/").status_code == 204
    assert len(make.get(f"{path}history/")["events"]) == 4
    assert make.get("/api/visits/", query_string={"customer_id": customer["id"]})["count"] == 0  # as if deleted
    with container.engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.id == uuid.UUID(customer["id"]))).one()
    assert (row.email, row.first_name, row.last_name, row.search_text.strip()) == ("", "", "", "")
    assert (row.visit_count, row.total_spend_cents, row.email_consent) == (1, 1_250, "unsubscribed")
    assert row.erased_at is not None and row.deleted_at == row.erased_at
    # Check the address is on the suppression list: registered again, it starts unsubscribed.
    again = make.customer(restaurant, email="zephyrine.quill@EXAMPLE.com", first_name="Z")
    assert again["email_consent"] == "unsubscribed"
    history = make.get(f"/api/customers/{again['id']}/history/")["events"]
    assert [(e["type"], e["data"].get("source")) for e in history] == [
        ("Registered", None),
        ("Unsubscribed", "suppression"),
    ]


def test_export_returns_everything_held_about_the_customer(admin, make, restaurant, clock, embedded):
    customer = make.customer(restaurant, first_name="Ada", last_name="Lovelace")
    visit = make.visit(customer, 4_200, clock.now)
    clock.advance(days=31)
    campaign = make.campaign(restaurant, name="Come back")
    make.control(campaign, "run")
    wait_for_status(admin, campaign, "completed")
    path = f"/api/customers/{customer['id']}/"
    assert admin.post(f"{path}unsubscribe/").status_code == 200

    exported = make.get(f"{path}export/")

    assert set(exported) == {"exported_at", "customer", "consent_history", "visits", "outreach"}
    assert exported["customer"] == make.get(path)
    assert [(c["email_consent"], c["source"]) for c in exported["consent_history"]] == [("unsubscribed", "api")]
    assert exported["visits"] == [{"id": visit["id"], "visited_at": visit["visited_at"], "spend_cents": 4_200}]
    [outreach] = exported["outreach"]
    assert (outreach["campaign"], outreach["campaign_name"], outreach["status"]) == (
        campaign["id"],
        "Come back",
        "sent",
    )
    assert when(outreach["sent_at"]) == clock.now


def test_the_openapi_document_shows_consent_fields_and_endpoints(client):
    document = client.get("/api/openapi.json").get_json()
    customer = document["components"]["schemas"]["Customer"]["properties"]
    assert customer["email_consent"]["enum"] == ["subscribed", "unsubscribed"]
    assert "email_consent_changed_at" in customer
    stats = document["components"]["schemas"]["CampaignStats"]["properties"]
    assert "excluded_unsubscribed" in stats
    restaurant = document["components"]["schemas"]["Restaurant"]["properties"]
    assert {"frequency_cap_messages", "frequency_cap_days"} <= set(restaurant)
    for change in ("unsubscribe", "resubscribe", "erase"):
        assert "post" in document["paths"][f"/api/customers/{{customer_id}}/{change}/"]
    export = document["paths"]["/api/customers/{customer_id}/export/"]["get"]
    assert export["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CustomerExport")
