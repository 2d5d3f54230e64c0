"""Events stored before a change of their class still read: an `Unsubscribed` written before it
kept the link's campaign (version 1) reads as version 2 with no campaign, and a `Registered`
written before it could carry an external id reads with none, in the aggregate, its history
and a rebuild of the read tables."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.utils import get_topic
from sqlalchemy import select, text

from crm.adapters.customer_keys import NONCE_BYTES
from crm.adapters.personal_data import ENCRYPTED
from crm.cli import main
from crm.read_model.tables import consent_changes, customers
from crm.write_model.customers import Customer
from crm.write_model.vocabulary import ConsentSource

V1_STATE = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T10:00:00+00:00"},"actor":"a","source":"api"}'


def rebuild(settings) -> None:
    """`crm projections rebuild`: every read table replayed from the log."""
    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )
    assert result.exit_code == 0, result.output


def test_an_unsubscribe_stored_as_version_1_reads_with_no_campaign(application, container, settings):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "c0@example.com", actor="a", scope=None)
    application.unsubscribe_customer(customer_id, source=ConsentSource.API, actor="a", scope=None)
    topic = get_topic(Customer.Unsubscribed)
    with container.engine.begin() as conn:
        stored = conn.execute(text("SELECT state FROM crm_events WHERE topic = :t"), {"t": topic}).scalar_one()
        assert b'"campaign_id":null,"class_version":2' in bytes(stored)  # what this version writes
        conn.execute(text("UPDATE crm_events SET state = :s WHERE topic = :t"), {"s": V1_STATE, "t": topic})

    stored_events = container.event_store.recorder.select_events(customer_id)
    unsubscribed = container.event_store.mapper.to_domain_event(stored_events[-1])

    assert isinstance(unsubscribed, Customer.Unsubscribed)
    assert (unsubscribed.source, unsubscribed.campaign_id) == ("api", None)
    assert container.application.repository.get(customer_id).email_consent == "unsubscribed"
    rebuild(settings)
    with container.engine.connect() as conn:
        rows = conn.execute(select(consent_changes.c.source, consent_changes.c.campaign_id)).all()
    assert [tuple(row) for row in rows] == [("api", None)]


def test_a_registration_stored_as_version_1_reads_with_no_external_id(application, container, settings):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "c0@example.com", "Ann", actor="a", scope=None)
    mapper = container.event_store.mapper
    [stored] = container.event_store.recorder.select_events(customer_id, limit=1)
    state = json.loads(mapper.decrypt(stored).state)
    assert (state.pop("class_version"), state.pop("external_id")) == (2, None)  # what this version writes
    # Check the first version's state, encrypted as it was, reads again
    nonce = os.urandom(NONCE_BYTES)
    bound = f"{stored.originator_id}:1:{stored.topic}".encode()
    v1 = ENCRYPTED + nonce + AESGCM(mapper.keys.get(customer_id)).encrypt(nonce, json.dumps(state).encode(), bound)
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE crm_events SET state = :s WHERE topic = :t"), {"s": v1, "t": stored.topic})

    [registered] = container.event_store.recorder.select_events(customer_id, limit=1)
    assert registered.state == v1
    customer = container.application.repository.get(customer_id)
    assert (customer.email, customer.first_name, customer.external_id) == ("c0@example.com", "Ann", None)
    history = application.customer_history(customer_id, scope=None)
    assert history[0]["data"] == {
        "restaurant_id": str(restaurant_id),
        "email": "c0@example.com",
        "first_name": "Ann",
        "last_name": "",
    }
    rebuild(settings)
    with container.engine.connect() as conn:
        rows = conn.execute(select(customers.c.first_name, customers.c.external_id)).all()
    assert [tuple(row) for row in rows] == [("Ann", None)]
