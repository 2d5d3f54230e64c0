"""The log's frequent reads on PostgreSQL from psycopg2's cursor (`LogReads._driver_rows`): the
same notifications, head, versions and topics as the SQLAlchemy statements they stand in for,
and the tracking row's lock with its dead-letter flag."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg2.extensions import STATUS_READY
from sqlalchemy import text

from crm.projectors.engine import dead_letters, tracking
from crm.write_model.customers import Customer
from crm.write_model.visits import Visit
from tests.integration.test_pages_outside_a_transaction_block import sent_while


def _customer(application) -> UUID:
    """A restaurant's customer, registered through the application."""
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin").id
    return application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None).id


def _core_latest_version(recorder, originator_id: UUID) -> int:
    """`latest_version` as its SQLAlchemy statement would answer."""
    with recorder.datastore.engine.connect() as connection:
        found = connection.execute(
            text(f"SELECT max(originator_version) FROM {recorder.events_table_name} WHERE originator_id = :id"),
            {"id": originator_id},
        ).scalar()
    return found or 0


def test_notifications_read_from_the_driver_are_the_core_reads(container):
    application = container.application
    customer = _customer(application)
    for spend in (100, 200, 300):
        application.record_visit(customer, spend, actor="admin", scope=None)
    recorder = application.recorder
    ids = [n.id for n in recorder._core_notifications(None, 1000, None, (), True, None)]
    first, second, head = ids[0], ids[1], ids[-1]  # (ids need not start at 1 nor follow on)
    visits, registered = get_topic(Visit.VisitRecorded), get_topic(Customer.Registered)
    shapes = [
        (None, 100, None, (), True),
        (first, 100, None, (), True),
        (first, 100, None, (), False),
        (second, 3, head, (), True),
        (second, 3, head, (), False),
        (0, 100, ids[-2], (visits,), False),
        (0, 100, head, (visits, registered), False),
        (first, 2, head, (visits, registered), True),
        (head, 100, None, (), False),  # nothing after the head
        (0, 100, head, ("no.such:Topic",), False),
    ]
    for start, limit, stop, topics, inclusive in shapes:
        driver = recorder._driver_notifications(start, limit, stop, topics, inclusive)
        core = recorder._core_notifications(start, limit, stop, topics, inclusive, None)
        assert driver == core, (start, limit, stop, topics, inclusive)
        assert all(type(n.originator_id) is UUID and type(n.state) is bytes for n in driver)
    # A rebuild's partitioned reads: each stream in one part, as the statement splits them.
    for parts in (2, 3):
        split = [recorder._driver_notifications(0, 100, head, (), False, (k, parts)) for k in range(parts)]
        assert split == [recorder._core_notifications(0, 100, head, (), False, (k, parts)) for k in range(parts)]
        assert sorted(n.id for part in split for n in part) == ids
        assert all(
            n.originator_id.bytes[15] % parts == k for k, part in enumerate(split) for n in part
        )  # the last byte of the stream's id, as `uuid_send` gives it
    # The public read takes the driver's path.
    assert recorder.select_notifications(0, 100, topics=[visits]) == recorder._driver_notifications(
        0, 100, None, [visits], True
    )
    assert len(recorder._driver_notifications(0, 100, None, [visits], True)) == 3


def test_the_head_versions_and_topics_read_from_the_driver_are_the_core_reads(container):
    application = container.application
    recorder = application.recorder
    assert recorder.head() == 0 and recorder.head_and_topics_after(0) == (0, set())
    customer = _customer(application)
    application.record_visit(customer, 100, actor="admin", scope=None)
    head = recorder.head()
    assert head == max(n.id for n in recorder._core_notifications(None, 1000, None, (), True, None))
    assert recorder.head_and_topics_after(1) == (head, {topic for topic, _ in recorder._core_head_and_topics_after(1)})
    assert recorder.latest_version(customer) == _core_latest_version(recorder, customer) >= 1
    assert recorder.latest_version(UUID(int=7)) == 0  # no such stream


def test_the_locked_tracking_row_says_whether_a_dead_letter_lies_ahead(container):
    _customer(container.application)
    recorder, engine = container.application.recorder, container.engine
    [first, second] = recorder.select_notifications(1, 2)
    with engine.begin() as connection:
        tracking.set_position(connection, "customers", first.id)  # the row exists in inline mode
    with engine.begin() as connection:
        assert tracking.locked_position_and_stop(connection, "customers") == (first.id, False)
    dead_letters.record(engine, "customers", second, ValueError("cannot apply"))
    with engine.begin() as connection:
        assert tracking.locked_position_and_stop(connection, "customers") == (first.id, True)
        # The row is locked until the transaction ends: another locker gives up at once.
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '50ms'"))
            try:
                other.execute(text("SELECT 1 FROM projection_tracking WHERE name = 'customers' FOR UPDATE"))
                raise AssertionError("the tracking row was not locked")
            except Exception as error:  # noqa: BLE001 - the lock timeout, as psycopg2 raises it
                assert "lock timeout" in str(error)
    with engine.begin() as connection:
        tracking.set_position(connection, "customers", second.id)  # a skipped letter lies behind
        assert tracking.locked_position_and_stop(connection, "customers") == (second.id, False)
    dead_letters.resolve(engine, "customers", [second.id])
    with engine.begin() as connection:
        tracking.set_position(connection, "customers", first.id)
        assert tracking.locked_position_and_stop(connection, "customers") == (first.id, False)


def test_a_read_on_a_connection_of_its_own_is_one_statement_outside_a_transaction_block(container):
    application = container.application
    customer = _customer(application)
    recorder = application.recorder
    head = recorder.head()
    reads = [
        recorder.head,
        lambda: recorder.latest_version(customer),
        lambda: recorder.head_and_topics_after(0),
        lambda: recorder.read_window(0, head, 100),
    ]
    for read in reads:
        sent = sent_while(container.engine, read)
        # One round trip: no BEGIN of the driver's before it, no ROLLBACK after it.
        assert [(in_autocommit, status) for _, in_autocommit, status in sent] == [(True, STATUS_READY)], sent
    # In the caller's transaction (a projector's batch), the reads take part in it.
    with application.recorder.transaction(commit=False):
        sent = sent_while(container.engine, lambda: [read() for read in reads])
    assert len(sent) == len(reads) and not any(in_autocommit for _, in_autocommit, _ in sent)
