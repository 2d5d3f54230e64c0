"""A restaurant's frequency cap: set through the API, held by sends across campaigns."""

from tests.e2e.e2e_support import assert_invalid, wait_for_status


def test_the_frequency_cap_is_set_validated_and_shown(admin, make, restaurant):
    path = f"/api/restaurants/{restaurant['id']}/"
    assert (restaurant["frequency_cap_messages"], restaurant["frequency_cap_days"]) == (0, 0)

    changed = admin.patch(path, json={"frequency_cap_messages": 2, "frequency_cap_days": 7})

    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["frequency_cap_messages"], changed.get_json()["frequency_cap_days"]) == (2, 7)
    assert make.get(path)["frequency_cap_days"] == 7
    assert_invalid(admin.patch(path, json={"frequency_cap_days": 0}), "frequency_cap_days")
    assert_invalid(admin.patch(path, json={"frequency_cap_messages": -1}), "frequency_cap_messages")
    assert_invalid(admin.patch(path, json={"frequency_cap_messages": "2"}), "frequency_cap_messages")
    created = make.restaurant("Capped", frequency_cap_messages=1, frequency_cap_days=30)
    assert (created["frequency_cap_messages"], created["frequency_cap_days"]) == (1, 30)
    assert_invalid(
        admin.post("/api/restaurants/", json={"name": "X", "frequency_cap_messages": 1}), "frequency_cap_days"
    )


def test_two_campaigns_together_reach_each_customer_once_under_a_cap_of_one(admin, make, restaurant, clock, embedded):
    admin.patch(f"/api/restaurants/{restaurant['id']}/", json={"frequency_cap_messages": 1, "frequency_cap_days": 7})
    guests = {make.customer(restaurant)["id"] for _ in range(30)}
    clock.advance(days=31)
    first, second = make.campaign(restaurant, name="First"), make.campaign(restaurant, name="Second")
    make.control(first, "run")
    make.control(second, "run")

    for campaign in (first, second):
        wait_for_status(admin, campaign, "completed")

    outcomes: dict[str, list] = {}
    for campaign in (first, second):
        records = make.get(f"/api/campaigns/{campaign['id']}/events/", query_string={"page_size": 100})["results"]
        for record in records:
            outcomes.setdefault(record["customer"], []).append((record["status"], record["error_message"]))
    assert set(outcomes) == guests
    for customer, pair in outcomes.items():
        assert sorted(pair) == [("sent", None), ("skipped", "frequency_capped")], customer
    # Check a third campaign within the week reaches no one.
    third = make.campaign(restaurant, name="Third")
    make.control(third, "run")
    done = wait_for_status(admin, third, "completed")
    assert (done["stats"]["sent"], done["stats"]["skipped"]) == (0, 30)
