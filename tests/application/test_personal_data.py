"""Personal data never sits in the event log in plain text."""

from sqlalchemy import text


def raw_rows(container, table):
    with container.engine.connect() as conn:
        return [(row.topic, bytes(row.state)) for row in conn.execute(text(f"SELECT topic, state FROM {table}"))]


def test_the_event_store_holds_no_email_or_name_in_plain_text(application, container):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(
        restaurant_id, "Zelda.Quartz@example.com", "Zelda", "Quartzberg", actor="admin", scope=None
    )
    application.update_customer(customer_id, actor="admin", scope=None, email="zq@example.org", last_name="Onyxdale")
    for cents in range(3):
        application.record_visit(customer_id, cents, actor="admin", scope=None)
    application.take_snapshot(customer_id)  # as the snapshot interval would, after 50 changes
    application.update_customer(customer_id, actor="admin", scope=None, first_name="Zed")

    events, snapshots = raw_rows(container, "crm_events"), raw_rows(container, "crm_snapshots")
    assert any("Customer.Registered" in topic for topic, _ in events)
    assert any("Customer" in topic for topic, _ in snapshots), "expected a customer snapshot"
    for topic, state in events + snapshots:
        lowered = state.lower()
        for secret in (b"zelda", b"quartz", b"onyxdale", b"zq@example"):
            assert secret not in lowered, f"{secret!r} in plain text in {topic}"
    # Check the customer still loads (from the encrypted snapshot and the event after it).
    customer = application.repository.get(customer_id)
    assert (customer.email, customer.first_name, customer.last_name) == ("zq@example.org", "Zed", "Onyxdale")


def test_customer_keys_are_stored_wrapped(application, container):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None)
    raw_key = application.keys.get(customer_id)
    with container.engine.connect() as conn:
        wrapped = bytes(conn.execute(text("SELECT wrapped_key FROM customer_keys")).scalar_one())
    assert len(raw_key) == 32
    assert raw_key not in wrapped


def test_a_replayed_registration_in_another_process_never_replaces_the_customers_key(settings, container, clock):
    # Process A registers; process B (which never saw the key) gets the same request again
    # (an Idempotency-Key replay), then changes the customer: every event stays readable.
    from crm import bootstrap

    first = container.application
    restaurant_id = first.open_restaurant("Pizza Palace", actor="admin").id
    customer_id = first.register_customer(restaurant_id, "zelda@example.com", "Zelda", actor="a", scope=None).id
    other = bootstrap.build(settings, clock=clock)
    try:
        again = other.application.register_customer(
            restaurant_id, "zelda@example.com", "Zelda", actor="a", scope=None, customer_id=customer_id
        )
        assert again.id == customer_id
        other.application.update_customer(customer_id, actor="b", scope=None, last_name="Quartz")
        # Check both processes read the whole story with the one stored key.
        for application in (first, other.application):
            history = application.customer_history(customer_id, scope=None)
            assert [e["type"] for e in history] == ["Registered", "DetailsChanged"]
            assert history[0]["data"]["email"] == "zelda@example.com"
        with container.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM customer_keys")).scalar_one() == 1
    finally:
        other.close()
