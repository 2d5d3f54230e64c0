"""The part of a save that runs under the events table lock, in one round trip (PostgreSQL).

Inserts take `LOCK TABLE ... IN EXCLUSIVE MODE` so that commits follow notification ids (see
`event_store`). Everything a save does while holding that lock serialises every writer of the
service, so it must be short: one statement string sent at once, with no Python in between.
It takes the lock, checks the save's `StreamLive` conditions (stream live, and owned by the
given owner), inserts the events and the stream owners, and advances the tracking position of
each projection the caller already brought up to date before the lock (its own events applied
from memory), provided nothing of that projection's topics was recorded between its position
and these events. The same string may start with writes held back for it (the save's new data
keys and its own projection, `DeferredWrites`), which run before the lock.

A save that must not commit (a condition failed; a projection lacked earlier events, which the
caller then handles on the slow path) is refused by the statement itself: it raises through
`crm_refuse_save` (migration 0019), which rolls back everything the string did. So the string
needs no decision of the caller's before its commit, and on a connection outside a transaction
block (`crm.adapters.autocommit`) it is one implicit transaction that PostgreSQL commits as
soon as its last statement has run: no `BEGIN`, no `COMMIT` of their own, and the lock is not
held across a round trip to this process.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from psycopg2 import IntegrityError as DatabaseIntegrityError
from psycopg2.errors import LockNotAvailable, RaiseException

from crm.write_model.commands import StreamLive
from crm.write_model.errors import EventStoreBusy

REFUSED = "crm_save_refused"  # the message of `crm_refuse_save` (migration 0019)


@dataclass(frozen=True)
class Appended:
    """What the locked statement did: the ids (in the order of the events given), the streams
    whose `StreamLive` condition failed (then nothing was inserted), the projections advanced."""

    ids: list[int]
    not_live: list[UUID]
    advanced: set[str]


def append_locked(
    cursor,
    prepared: dict[str, int],
    events_table: str,
    channel: str,
    lock_timeout_ms: int,
    stored_events: Sequence[StoredEvent],
    conditions: Sequence[StreamLive],
    owners: Mapping[UUID, UUID],
    tracking: Sequence[tuple[str, Sequence[str]]],
    before: str = "",
) -> Appended:
    """Run the locked part of a save on `cursor` (the transaction's own DBAPI cursor).

    The statement is prepared once per connection and shape (how many conditions, events,
    owners and projections; `prepared` is the connection's record of them: name -> generation,
    negative while unknown): planning it would otherwise take half its time, under the lock.
    `before` is SQL text sent first in the same string, before the lock (`DeferredWrites.take`).
    """
    shape = (len(conditions), len(stored_events), len(owners), len(tracking))
    name = f"crm_append_{events_table}_{'_'.join(map(str, shape))}"
    generation = prepared.get(name, 0)
    ready = generation > 0
    if not ready:  # prepared in the same round trip, under the lock: parsing locks the tables
        generation = -generation + 1
    statement = f"{name}_{generation}"
    prepare = "" if ready else f"PREPARE {statement} AS {_statement(events_table, *shape)}; "
    params: list = []
    for c in conditions:
        params += [str(c.id), sorted(c.live), None if c.owner is None else str(c.owner)]
    for n, e in enumerate(stored_events):
        params += [str(e.originator_id), e.originator_version, e.topic, e.state, n]
    for stream, owner in owners.items():
        params += [str(stream), str(owner)]
    for projection, topics in tracking:
        params += [projection, sorted(topics)]
    arguments = ", ".join(["%s"] * len(params))
    try:
        try:
            cursor.execute(
                f"{before}SET LOCAL lock_timeout = '{int(lock_timeout_ms)}ms'; "
                f"LOCK TABLE {events_table} IN EXCLUSIVE MODE; NOTIFY {channel}; "
                f"{prepare}EXECUTE {statement} ({arguments})",
                params,
            )
        except Exception:
            if not ready:  # whether PREPARE ran is unknown: the next try prepares a new name
                prepared[name] = -generation
            raise
    except LockNotAvailable:
        raise EventStoreBusy(lock_timeout_ms / 1000) from None
    except DatabaseIntegrityError as error:
        if before and error.diag.table_name not in (events_table, "stream_owners"):
            raise  # refused by a read table: the caller's projection failed, not the save
        raise IntegrityError(error) from error  # a version already taken: optimistic concurrency
    except RaiseException as error:
        if error.diag.message_primary != REFUSED:
            raise
        prepared[name] = generation  # it ran, so it was prepared
        if error.diag.message_hint == "not live":
            return Appended([], [UUID(i) for i in json.loads(error.diag.message_detail)], set())
        return Appended([], [], set(json.loads(error.diag.message_detail)))
    prepared[name] = generation
    _, inserted = cursor.fetchone()
    id_of = {(UUID(originator), version): id for id, originator, version in inserted}
    ids = [id_of[(UUID(str(e.originator_id)), e.originator_version)] for e in stored_events]
    return Appended(ids, [], {projection for projection, _ in tracking})


@lru_cache(maxsize=64)
def _statement(events_table: str, conditions: int, events: int, owners: int, projections: int) -> str:
    """The locked statement for one shape, with $n parameters in the order `append_locked` gives them."""
    numbers = iter(range(1, 1_000_000))

    def values(rows: int, casts: tuple[str, ...]) -> str:
        if not rows:
            return "SELECT " + ", ".join(f"NULL::{cast}" for cast in casts) + " WHERE false"
        return "VALUES " + ", ".join(
            "(" + ", ".join(f"${next(numbers)}::{cast}" for cast in casts) + ")" for _ in range(rows)
        )

    live = values(conditions, ("uuid", "text[]", "uuid"))
    rows = values(events, ("uuid", "bigint", "text", "bytea", "int"))
    owned = values(owners, ("uuid", "uuid"))
    tracked = values(projections, ("text", "text[]"))
    return f"""
WITH live AS (
    SELECT c.id, (
        SELECT e.topic FROM {events_table} e WHERE e.originator_id = c.id
        ORDER BY e.originator_version DESC LIMIT 1
    ) = ANY(c.topics) AND (
        c.owner IS NULL OR EXISTS (SELECT 1 FROM stream_owners o WHERE o.stream_id = c.id AND o.owner_id = c.owner)
    ) AS ok
    FROM ({live}) AS c(id, topics, owner)
), go AS (
    SELECT coalesce(bool_and(ok IS TRUE), true) AS ok FROM live  -- (a stream never recorded: NULL)
), ins AS (
    INSERT INTO {events_table} (originator_id, originator_version, topic, state)
    SELECT v.oid, v.ver, v.topic, v.state FROM ({rows}) AS v(oid, ver, topic, state, n), go
    WHERE go.ok ORDER BY v.n
    RETURNING id, originator_id, originator_version
), own AS (
    INSERT INTO stream_owners (stream_id, owner_id)
    SELECT o.stream_id, o.owner_id FROM ({owned}) AS o(stream_id, owner_id), go WHERE go.ok
), trk AS (
    UPDATE projection_tracking t SET position = (SELECT max(id) FROM ins)
    FROM ({tracked}) AS p(name, topics)
    WHERE t.name = p.name AND EXISTS (SELECT 1 FROM ins) AND NOT EXISTS (
        SELECT 1 FROM {events_table} e
        WHERE e.id > t.position AND e.id < (SELECT min(id) FROM ins) AND e.topic = ANY(p.topics)
    )
    RETURNING t.name
)
SELECT
    CASE
        WHEN NOT go.ok THEN crm_refuse_save(
            'not live', (SELECT json_agg(id)::text FROM live WHERE ok IS NOT TRUE)
        )
        WHEN (SELECT count(*) FROM trk) < {projections} THEN crm_refuse_save(
            'behind', (SELECT coalesce(json_agg(name), '[]')::text FROM trk)
        )
    END,
    (SELECT coalesce(json_agg(json_build_array(id, originator_id, originator_version)), '[]') FROM ins)
FROM go
"""
