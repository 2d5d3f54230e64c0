def test_restaurant_customer_visit_round_trip(admin, restaurant, customer):
    # Check a visit updates the customer's totals at once (read-your-writes).
    response = admin.post(f"/api/customers/{customer['id']}/add_visit/", json={"spend_cents": 3734})
    assert response.status_code == 201
    body = admin.get(f"/api/customers/{customer['id']}/").json
    assert body["total_spend_cents"] == 3734
    assert body["total_spend_dollars"] == "37.34"
    assert body["visit_count"] == 1
    assert body["restaurant_name"] == "Pizza Palace"
