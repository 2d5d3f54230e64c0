"""Campaign previews (saved and unsaved) and whole runs through the API with the embedded worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.commands import Caller
from tests.e2e.e2e_support import (
    BODY,
    OUTREACH_FIELDS,
    README_EXAMPLE,
    assert_conflict_names,
    assert_error,
    assert_invalid,
    body_for,
    campaigns,
    wait_for_status,
    when,
)

# -- preview ------------------------------------------------------------------------------


def names_by_id(customers: list[dict]) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["first_name"], c["last_name"]) for c in customers}


def test_preview_renders_subject_and_message_for_the_audience(admin, make, restaurant, clock):
    people = [
        make.customer(restaurant, first_name="Ada", last_name="Lovelace"),
        make.customer(restaurant, first_name="Alan", last_name="Turing"),
        make.customer(restaurant, first_name="Grace", last_name="Hopper"),
    ]
    clock.advance(days=31)
    campaign = make.campaign(
        restaurant,
        subject="{first_name}, {restaurant_name} misses you",
        message_template="Dear {first_name} {last_name}, come back to {restaurant_name}!",
    )

    response = admin.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert response.status_code == 200, response.get_json()
    preview = response.get_json()
    assert set(preview) == {"audience", "samples"}
    assert preview["audience"] == 3
    assert all(set(sample) == {"customer", "subject", "message"} for sample in preview["samples"])
    names = names_by_id(people)
    assert sorted(s["customer"] for s in preview["samples"]) == sorted(names)
    for sample in preview["samples"]:
        first, last = names[sample["customer"]]
        assert sample["subject"] == f"{first}, Pizza Palace misses you"
        assert sample["message"] == f"Dear {first} {last}, come back to Pizza Palace!"


def test_preview_shows_at_most_five_samples(admin, make, restaurant, clock):
    people = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(7)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant, message_template="Hi {first_name}")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert preview["audience"] == 7
    assert len(preview["samples"]) == 5
    names = names_by_id(people)
    customers = [s["customer"] for s in preview["samples"]]
    assert len(set(customers)) == 5 and set(customers) <= set(names)
    assert all(s["message"] == f"Hi {names[s['customer']][0]}" for s in preview["samples"])
    # Check the default subject renders the restaurant's name.
    assert {s["subject"] for s in preview["samples"]} == {"Pizza Palace"}


def test_preview_follows_the_inactive_days_segment_and_the_clock(admin, make, restaurant, clock):
    regular = make.customer(restaurant, first_name="Regular")
    lapsed = make.customer(restaurant, first_name="Lapsed")
    make.visit(lapsed, 1_000, clock.now - timedelta(days=20))
    campaign = make.campaign(restaurant, segment_type="inactive_days", segment_value=30)
    path = f"/api/campaigns/{campaign['id']}/preview/"

    def audience() -> tuple[int, list[str]]:
        preview = make.get(path)
        return preview["audience"], sorted(s["customer"] for s in preview["samples"])

    # Check nobody is inactive yet; the lapsed customer is after 10 more days and a second.
    assert audience() == (0, [])
    clock.advance(days=10, seconds=1)
    assert audience() == (1, [lapsed["id"]])
    # Check the regular follows 20 days later, unless a visit brings them back.
    clock.advance(days=20)
    assert audience() == (2, sorted([regular["id"], lapsed["id"]]))
    make.visit(lapsed, 500, clock.now)
    assert audience() == (1, [regular["id"]])


def test_preview_follows_the_high_spenders_segment(admin, make, restaurant):
    big = make.customer(restaurant, first_name="Big")
    exact = make.customer(restaurant, first_name="Exact")
    small = make.customer(restaurant, first_name="Small")
    make.customer(restaurant, first_name="Never")
    make.visit(big, 30_000)
    make.visit(big, 30_000)
    make.visit(exact, 50_000)
    make.visit(small, 49_999)
    campaign = make.campaign(restaurant, segment_type="high_spenders", segment_value=50_000, message_template="Hi")

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert preview["audience"] == 2
    assert sorted(s["customer"] for s in preview["samples"]) == sorted([big["id"], exact["id"]])
    # Check a preview reflects an edit of the threshold at once.
    assert admin.patch(f"/api/campaigns/{campaign['id']}/", json={"segment_value": 0}).status_code == 200
    assert make.get(f"/api/campaigns/{campaign['id']}/preview/")["audience"] == 4


def test_preview_leaves_out_the_unsubscribed_as_the_audience_will(admin, make, restaurant, clock):
    staying = make.customer(restaurant, first_name="Staying")
    leaving = make.customer(restaurant, first_name="Leaving")
    assert admin.post(f"/api/customers/{leaving['id']}/unsubscribe/").status_code == 200
    clock.advance(days=31)
    campaign = make.campaign(restaurant)

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert (preview["audience"], [s["customer"] for s in preview["samples"]]) == (1, [staying["id"]])


def test_preview_counts_only_the_campaigns_restaurant(admin, make, restaurant, clock):
    mine = make.customer(restaurant, first_name="Mine")
    other = make.restaurant("Other Place")
    make.customer(other, first_name="Theirs")
    clock.advance(days=31)
    campaign = make.campaign(restaurant)

    preview = make.get(f"/api/campaigns/{campaign['id']}/preview/")

    assert (preview["audience"], [s["customer"] for s in preview["samples"]]) == (1, [mine["id"]])


def test_preview_of_an_unsaved_campaign_saves_nothing(admin, make, restaurant, clock):
    ada = make.customer(restaurant, first_name="Ada", last_name="Lovelace")
    clock.advance(days=31)

    response = admin.post(
        "/api/campaigns/preview/",
        json={**README_EXAMPLE, "restaurant": restaurant["id"], "subject": "{restaurant_name} for {last_name}"},
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "audience": 1,
        "samples": [
            {
                "customer": ada["id"],
                "subject": "Pizza Palace for Lovelace",
                "message": "Hi Ada, we miss you! Come back for 20% off.",
            }
        ],
    }
    assert campaigns(admin)["count"] == 0


def test_preview_of_an_unsaved_campaign_uses_the_default_subject(admin, make, restaurant, clock):
    make.customer(restaurant, first_name="Ada")
    clock.advance(days=31)
    body = {k: v for k, v in README_EXAMPLE.items() if k != "status"}

    preview = admin.post("/api/campaigns/preview/", json={**body, "restaurant": restaurant["id"]}).get_json()

    assert [s["subject"] for s in preview["samples"]] == ["Pizza Palace"]


def test_preview_of_an_unsaved_campaign_checks_the_body_like_create(admin, make, restaurant):
    make.customer(restaurant)
    body = body_for(restaurant)
    cases = [
        ({k: v for k, v in body.items() if k != "restaurant"}, "restaurant"),
        ({**body, "restaurant": str(uuid.uuid4())}, "restaurant"),
        ({k: v for k, v in body.items() if k != "message_template"}, "message_template"),
        ({**body, "segment_value": 1.5}, "segment_value"),
        ({**body, "segment_type": "inactive_days", "segment_value": 36_501}, "segment_value"),
        ({**body, "subject": "{email}"}, "subject"),
        ({**body, "status": "running"}, "status"),
    ]

    for case, field in cases:
        assert_invalid(admin.post("/api/campaigns/preview/", json=case), field)
    assert campaigns(admin)["count"] == 0


def test_preview_by_a_restaurant_key_may_omit_the_restaurant(make, restaurant, key_of):
    guest = make.customer(restaurant, first_name="Guest")
    make.visit(guest, 70_000)

    preview = key_of(restaurant).post("/api/campaigns/preview/", json=BODY)

    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["audience"] == 1
    assert preview.get_json()["samples"][0]["message"] == "Dear Guest "


def test_preview_of_an_unknown_campaign_is_404(admin, restaurant):
    assert_error(admin.get(f"/api/campaigns/{uuid.uuid4()}/preview/"), 404)


# -- a whole run --------------------------------------------------------------------------


def test_a_campaign_runs_to_completion_through_the_api(admin, make, restaurant, clock, embedded):
    lapsed = [make.customer(restaurant, first_name=f"Lapsed{n}", last_name="Guest") for n in range(4)]
    regular = make.customer(restaurant, first_name="Regular")
    clock.advance(days=40)
    make.visit(regular, 2_500, clock.now - timedelta(days=2))
    newcomer = make.customer(restaurant, first_name="New")
    campaign = make.campaign(restaurant, **{k: v for k, v in README_EXAMPLE.items() if k != "status"})
    path = f"/api/campaigns/{campaign['id']}/"
    audience = {c["id"] for c in lapsed}

    # Check the preview shows the audience the run will reach.
    preview = make.get(f"{path}preview/")
    assert preview["audience"] == 4
    assert {s["customer"] for s in preview["samples"]} == audience

    started = admin.post(f"{path}run/")
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["status"] == "running"
    assert when(started.get_json()["started_at"]) == clock.now

    done = wait_for_status(admin, campaign, "completed")

    assert done["stats"] == {
        "audience": 4,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 4,
        "failed": 0,
        "skipped": 0,
    }
    assert when(done["completed_at"]) == clock.now
    events = make.get(f"{path}events/", query_string={"page_size": 100})
    assert events["count"] == 4
    assert {e["customer"] for e in events["results"]} == audience
    assert not {e["customer"] for e in events["results"]} & {regular["id"], newcomer["id"]}
    emails = {c["id"]: c["email"] for c in lapsed}
    for event in events["results"]:
        assert set(event) == OUTREACH_FIELDS
        assert (event["campaign"], event["campaign_name"]) == (campaign["id"], campaign["name"])
        assert event["customer_email"] == emails[event["customer"]]
        assert (event["channel"], event["status"], event["error_message"]) == ("email", "sent", None)
        assert event["attempts"] == 1
        assert when(event["sent_at"]) == clock.now
    assert make.get(f"{path}events/", query_string={"status": "sent"})["count"] == 4
    listed = make.get("/api/outreach-events/", query_string={"campaign_id": campaign["id"], "page_size": 100})
    assert listed["results"] == events["results"]
    # Check a campaign runs once, and stays completed.
    assert_conflict_names(admin.post(f"{path}run/"), "completed")
    assert make.get(path) == done


def test_a_customer_removed_after_the_audience_was_fixed_is_skipped(
    admin, make, container, restaurant, clock, start_worker
):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    started = make.control(campaign, "run")
    # Fix the audience as the worker's first step does, then remove a customer before any sending.
    audience = container.campaign_queries.audience_ids(
        uuid.UUID(restaurant["id"]), "inactive_days", 30, when(started["started_at"])
    )
    assert sorted(map(str, audience)) == sorted(g["id"] for g in guests)
    Caller(container).plan_audience(uuid.UUID(campaign["id"]), audience)
    gone = guests[1]
    assert admin.delete(f"/api/customers/{gone['id']}/").status_code == 204

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    assert done["stats"] == {
        "audience": 3,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 1,
    }
    events = {e["customer"]: e for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert set(events) == {g["id"] for g in guests}
    skipped = events[gone["id"]]
    assert (skipped["status"], skipped["customer_email"], skipped["sent_at"]) == ("skipped", None, None)
    assert isinstance(skipped["error_message"], str) and skipped["error_message"].strip()
    assert [e["status"] for c, e in events.items() if c != gone["id"]] == ["sent", "sent"]
    assert make.get(f"/api/campaigns/{campaign['id']}/events/", query_string={"status": "skipped"})["count"] == 1


def test_a_customer_removed_after_the_start_is_skipped_even_before_the_worker_fixes_the_audience(
    admin, make, restaurant, clock, start_worker
):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    clock.advance(seconds=1)
    # No worker yet: the customer is removed after the start, before the audience is fixed.
    gone = guests[0]
    assert admin.delete(f"/api/customers/{gone['id']}/").status_code == 204

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    events = {e["customer"]: e for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert set(events) == {g["id"] for g in guests}
    assert events[gone["id"]]["status"] == "skipped"
    assert isinstance(events[gone["id"]]["error_message"], str) and events[gone["id"]]["error_message"]
    assert done["stats"] == {
        "audience": 3,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 2,
        "failed": 0,
        "skipped": 1,
    }


def test_the_audience_is_the_segment_at_the_start(admin, make, restaurant, clock, start_worker):
    guests = [make.customer(restaurant, first_name=f"Guest{n}") for n in range(3)]
    clock.advance(days=31)
    campaign = make.campaign(restaurant)
    make.control(campaign, "run")
    clock.advance(seconds=1)
    # No worker yet: after the start, one inactive customer comes back and a new one registers.
    make.visit(guests[0], 1_000, clock.now)
    newcomer = make.customer(restaurant, first_name="New")

    start_worker()
    done = wait_for_status(admin, campaign, "completed")

    reached = {e["customer"] for e in make.get(f"/api/campaigns/{campaign['id']}/events/")["results"]}
    assert newcomer["id"] not in reached
    assert reached == {g["id"] for g in guests}
    assert done["stats"] == {
        "audience": 3,
        "excluded_unsubscribed": 0,
        "excluded_cooldown": 0,
        "queued": 0,
        "sent": 3,
        "failed": 0,
        "skipped": 0,
    }
