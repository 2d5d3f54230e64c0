"""The part of an import's save that runs under the events table lock, in bulk (PostgreSQL).

A save of more events than `locked_append` takes in one round trip (an import's batch of
1,000 rows) goes through the session path of `event_store`; these do its bulk parts: the
batch's `StreamLive` conditions checked in one statement (or, for conditions checked before
the lock, only the events since), and its events and stream owners written by COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg2 import IntegrityError as DatabaseIntegrityError
from sqlalchemy import text
from sqlalchemy.orm import Session

from crm.adapters.copy_stream import copy_in
from crm.adapters.log_reads import as_uuid
from crm.write_model.commands import StreamLive


def first_not_live(session: Session, events_table: str, conditions: Sequence[StreamLive]) -> UUID | None:
    """The first stream whose `StreamLive` condition fails, if any (one statement per kind of
    condition: their live topics, and whether they name an owner)."""
    for (live, owned), group in _by_kind(conditions).items():
        failing = session.execute(
            text(_FIRST_NOT_LIVE.format(events=events_table, owned="true" if owned else "false")),
            {
                "ids": [str(c.id) for c in group],
                "owners": [str(c.owner) for c in group] if owned else [None] * len(group),
                "live": sorted(live),
            },
        ).scalar()
        if failing is not None:
            return as_uuid(failing)
    return None


# The first of many streams whose newest event's topic is not live or (`owned`) whose owner is
# not the one given: one statement for an import's batch of conditions.
_FIRST_NOT_LIVE = """
SELECT c.id FROM unnest(CAST(:ids AS uuid[]), CAST(:owners AS uuid[])) AS c(id, owner)
WHERE NOT coalesce((
    SELECT e.topic FROM {events} e WHERE e.originator_id = c.id ORDER BY e.originator_version DESC LIMIT 1
) = ANY(CAST(:live AS text[])), false)
OR ({owned} AND NOT EXISTS (SELECT 1 FROM stream_owners o WHERE o.stream_id = c.id AND o.owner_id = c.owner))
LIMIT 1
"""


def first_ended_since(session: Session, events_table: str, conditions: Sequence[StreamLive]) -> UUID | None:
    """The first stream of conditions found true at their `checked_through` head that has an
    event of a topic not live since (one statement per head and live topics): what is left of
    checking them under the lock, since an ended stream never lives again and an owner never
    changes. The events after a recent head are few, so this reads far less than
    `first_not_live`, which looks up each stream's newest event and its owner."""
    groups: dict[tuple[int, frozenset[str]], list[UUID]] = {}
    for c in conditions:
        groups.setdefault((c.checked_through, c.live), []).append(c.id)
    for (since, live), ids in groups.items():
        failing = session.execute(
            text(_FIRST_ENDED_SINCE.format(events=events_table)),
            {"since": since, "ids": [str(i) for i in ids], "live": sorted(live)},
        ).scalar()
        if failing is not None:
            return as_uuid(failing)
    return None


_FIRST_ENDED_SINCE = """
SELECT e.originator_id FROM {events} e
WHERE e.id > :since AND e.originator_id = ANY(CAST(:ids AS uuid[]))
AND NOT e.topic = ANY(CAST(:live AS text[]))
LIMIT 1
"""


def _by_kind(conditions: Sequence[StreamLive]) -> dict[tuple[frozenset[str], bool], list[StreamLive]]:
    """Conditions grouped by their live topics and whether they name an owner."""
    groups: dict[tuple[frozenset[str], bool], list[StreamLive]] = {}
    for condition in conditions:
        groups.setdefault((condition.live, condition.owner is not None), []).append(condition)
    return groups


def insert_many(
    session: Session, events_table: str, stored_events: Sequence[StoredEvent], owners: dict[UUID, UUID]
) -> list[int]:
    """Insert many events and their streams' owners with COPY (an import's batch: per-row
    parameters cost more than the database's work); the events' ids, in the order given.

    Called under the table lock, so the ids taken from the sequence here are the next ones,
    in order, as the inserts' own defaults would have been.
    """
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (events_table, len(stored_events)),
        )
        ids = [row[0] for row in cursor.fetchall()]
        copy_in(
            cursor,
            f"COPY {events_table} (id, originator_id, originator_version, topic, state) FROM STDIN",
            (
                f"{id}\t{e.originator_id}\t{e.originator_version}\t{e.topic}\t\\\\x{e.state.hex()}\n"
                for id, e in zip(ids, stored_events, strict=True)
            ),
        )
        if owners:
            copy_in(
                cursor,
                "COPY stream_owners (stream_id, owner_id) FROM STDIN",
                (f"{stream}\t{owner}\n" for stream, owner in owners.items()),
            )
    except DatabaseIntegrityError as error:  # a version already taken: optimistic concurrency
        raise IntegrityError(error) from error
    finally:
        cursor.close()
    return ids
