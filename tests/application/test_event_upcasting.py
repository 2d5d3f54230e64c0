"""Events stored before a change of their class still read: an `Unsubscribed` written before it
kept the link's campaign (version 1) reads as version 2 with no campaign, in the aggregate, its
history and a rebuild of the read tables."""

from __future__ import annotations

from click.testing import CliRunner
from eventsourcing.utils import get_topic
from sqlalchemy import select, text

from crm.cli import main
from crm.read_model.tables import consent_changes
from crm.write_model.customers import Customer
from crm.write_model.vocabulary import ConsentSource

V1_STATE = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-01-05T10:00:00+00:00"},"actor":"a","source":"api"}'


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
    result = CliRunner().invoke(
        main,
        ["projections", "rebuild"],
        env={"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key},
    )
    assert result.exit_code == 0, result.output
    with container.engine.connect() as conn:
        rows = conn.execute(select(consent_changes.c.source, consent_changes.c.campaign_id)).all()
    assert [tuple(row) for row in rows] == [("api", None)]
