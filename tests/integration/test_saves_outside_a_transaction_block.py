"""A save sent as one implicit transaction: committed by its own statement, refused whole
(PostgreSQL's fast path; `crm.adapters.autocommit`, `crm.adapters.locked_append`)."""

from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from psycopg2.extensions import STATUS_IN_TRANSACTION, STATUS_READY
from sqlalchemy import select, text

from crm.adapters.autocommit import autocommit
from crm.adapters.customer_keys import customer_keys
from crm.adapters.deferred_writes import DeferredWrites, WritesMustWait
from crm.adapters.locked_append import append_locked
from crm.projectors.customers import CustomerSpendProjector
from crm.read_model.tables import customers, restaurants
from crm.write_model.commands import StreamLive
from crm.write_model.errors import InvalidInput

TOPIC = "tests:Thing.Happened"


def test_autocommit_sends_one_statement_outside_a_block_and_puts_the_connection_back(container):
    with container.engine.connect() as connection:
        driver = connection.connection.driver_connection
        with autocommit(connection) as outside:
            assert outside and driver.autocommit
            connection.execute(text("SELECT 1")).scalar_one()
            assert driver.status == STATUS_READY  # no transaction left open by the read
        assert not driver.autocommit
        connection.execute(text("SELECT 1")).scalar_one()
        assert driver.status == STATUS_IN_TRANSACTION  # the usual mode again
        connection.rollback()
    # Check a connection whose isolation level was set explicitly (each switch would then cost
    # SET statements) is left in a transaction as usual.
    with container.engine.connect() as connection:
        connection.execution_options(isolation_level="READ COMMITTED")
        with autocommit(connection) as outside:
            assert not outside
            connection.execute(text("SELECT 1")).scalar_one()
            assert connection.connection.driver_connection.status == STATUS_IN_TRANSACTION
        connection.rollback()


def test_a_save_is_committed_when_its_statement_returns(container):
    stream = uuid4()
    with container.engine.connect() as connection, autocommit(connection) as outside:
        assert outside
        appended = _append(connection, [_event(stream, 1)])
        driver = connection.connection.driver_connection
        assert driver.status == STATUS_READY  # nothing left to commit
        # Check another connection sees the event before this one does anything more.
        with container.engine.connect() as other:
            assert _versions(other, stream) == [1]
    assert len(appended.ids) == 1 and not appended.not_live


def test_a_refused_save_leaves_nothing_behind_and_the_connection_ready(container):
    stream, missing = uuid4(), uuid4()
    with container.engine.connect() as connection, autocommit(connection) as outside:
        assert outside
        writes = DeferredWrites(connection, hold=True)
        writes.execute(restaurants.insert(), _restaurant_row(connection, "Held back"))
        refused = [StreamLive(missing, frozenset([TOPIC]))]  # a stream never recorded
        appended = _append(connection, [_event(stream, 1)], conditions=refused, before=writes.take())
        assert appended.not_live == [missing] and appended.ids == []
        assert connection.connection.driver_connection.status == STATUS_READY
        connection.execute(text("SELECT 1")).scalar_one()  # usable: not in an aborted transaction
    with container.engine.connect() as other:
        assert _versions(other, stream) == []
        assert other.execute(select(restaurants.c.id).where(restaurants.c.name == "Held back")).first() is None


def test_a_save_whose_projection_lacks_earlier_events_is_refused_whole(container):
    earlier, stream = uuid4(), uuid4()
    with container.engine.begin() as connection:
        connection.execute(text("INSERT INTO projection_tracking (name, position) VALUES ('tests', 0)"))
    with container.engine.connect() as connection, autocommit(connection):
        _append(connection, [_event(earlier, 1)])  # of the projection's topic, not projected
        appended = _append(connection, [_event(stream, 1)], tracking=[("tests", [TOPIC])])
        assert appended.ids == [] and appended.advanced == set()
    with container.engine.connect() as other:
        assert _versions(other, stream) == []
        assert other.execute(text("SELECT position FROM projection_tracking WHERE name = 'tests'")).scalar() == 0


def test_no_write_is_sent_alone_outside_a_block(container):
    with container.engine.connect() as connection, autocommit(connection):
        writes = DeferredWrites(connection, hold=True)
        # Check a write that cannot be kept (a list expanded at execution), or the connection
        # itself (a COPY), is refused even while nothing is kept: it would commit at once.
        with pytest.raises(WritesMustWait):
            writes.execute(restaurants.delete().where(restaurants.c.id.in_([uuid4()])))
        with pytest.raises(WritesMustWait):
            writes.connection()
        assert writes.execute(select(restaurants.c.id)).all() == []  # a read, nothing kept: runs
        writes.execute(restaurants.insert(), _restaurant_row(connection, "Alone"))
        with pytest.raises(WritesMustWait):
            writes.execute(select(restaurants.c.id))  # a read would send the kept write first
    with container.engine.connect() as other:
        assert other.execute(select(restaurants.c.id).where(restaurants.c.name == "Alone")).first() is None


def test_a_refused_command_whose_projection_reads_leaves_nothing_behind(application, container, monkeypatch):
    restaurant_id = application.open_restaurant("Closing", actor="admin")
    application.delete_restaurant(restaurant_id, actor="admin", scope=None)
    monkeypatch.setattr(CustomerSpendProjector, "apply", _then_read(CustomerSpendProjector.apply, customers))
    customer_id = uuid4()
    with pytest.raises(InvalidInput):
        application.register_customer(
            restaurant_id, "late@example.com", actor="admin", scope=None, customer_id=customer_id
        )
    # Check neither the projection's row nor the data key, held for the refused save, landed.
    with container.engine.connect() as connection:
        assert connection.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None
        assert (
            connection.execute(
                select(customer_keys.c.customer_id).where(customer_keys.c.customer_id == customer_id)
            ).first()
            is None
        )
        assert _versions(connection, customer_id) == []


def _append(connection, events, *, conditions=(), tracking=(), before=""):
    dbapi = connection.connection
    return append_locked(
        dbapi.cursor(),
        dbapi.info.setdefault("crm_prepared", {}),
        "crm_events",
        "crm_events",
        5000,
        events,
        conditions,
        {},
        tracking,
        before=before,
    )


def _event(stream: UUID, version: int) -> StoredEvent:
    return StoredEvent(originator_id=stream, originator_version=version, topic=TOPIC, state=b"{}")


def _versions(connection, stream: UUID) -> list[int]:
    return list(
        connection.execute(
            text("SELECT originator_version FROM crm_events WHERE originator_id = :id ORDER BY 1"), {"id": stream}
        ).scalars()
    )


def _restaurant_row(connection, name: str) -> dict:
    now = connection.execute(text("SELECT now()")).scalar_one()
    return {"id": uuid4(), "name": name, "timezone": "UTC", "created_at": now}


def _then_read(apply, table):
    def apply_then_read(self, events, session):
        apply(self, events, session)
        session.execute(select(table.c.id)).all()  # a read after the held writes

    return apply_then_read
