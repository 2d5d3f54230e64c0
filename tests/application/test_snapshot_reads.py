"""Snapshots are read through the Core reads the log's recorder uses, with the library's answers."""

from eventsourcing_sqlalchemy.recorders import SQLAlchemyAggregateRecorder

from crm.adapters.event_store import CoreSnapshotRecorder


def test_snapshot_reads_answer_what_the_library_reads_answer(application):
    restaurant_id = application.open_restaurant("Pizza Palace", actor="admin")
    customer_id = application.register_customer(restaurant_id, "a@example.com", actor="admin", scope=None)
    for cents in range(3):
        application.update_customer(customer_id, actor="admin", scope=None, first_name=f"Ann{cents}")
        application.take_snapshot(customer_id)
    application.update_customer(customer_id, actor="admin", scope=None, first_name="Zed")
    recorder = application.snapshots.recorder
    assert isinstance(recorder, CoreSnapshotRecorder)

    shapes = [{}, {"desc": True, "limit": 1}, {"lte": 3, "desc": True, "limit": 1}, {"gt": 2}, {"gt": 2, "lte": 3}]
    for shape in shapes:
        ours = recorder.select_events(customer_id, **shape)
        theirs = SQLAlchemyAggregateRecorder.select_events(recorder, customer_id, **shape)
        assert ours == theirs, shape
    newest = recorder.select_events(customer_id, desc=True, limit=1)
    assert [snapshot.originator_version for snapshot in newest] == [4]
    # The customer loads from its newest snapshot and the event after it.
    assert application.repository.get(customer_id).first_name == "Zed"
