"""Projection positions, advanced by compare-and-set in the projector's own transaction.

Every function takes what executes statements in the caller's transaction: an ORM `Session`
or a Core `Connection` (a rebuild's swap works on a connection).
"""

from __future__ import annotations

from psycopg2.errors import DivisionByZero
from sqlalchemy import exists, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm import dialects
from crm.adapters.deferred_writes import DeferredWrites
from crm.adapters.prepared_statements import driver_cursor
from crm.read_model.tables import projection_dead_letters, projection_tracking

Executor = Session | Connection


def _dialect(executor: Executor) -> str:
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    return bind.dialect.name


def position(executor: Executor, name: str) -> int:
    value = executor.execute(select(projection_tracking.c.position).where(projection_tracking.c.name == name)).scalar()
    return value or 0


def positions(executor: Executor) -> dict[str, int]:
    """Every projection's position (and the campaign follower's)."""
    return dict(executor.execute(select(projection_tracking.c.name, projection_tracking.c.position)).all())


def locked_position(executor: Executor, name: str) -> int:
    """The position, with the tracking row locked until the transaction ends (PostgreSQL)."""
    query = select(projection_tracking.c.position).where(projection_tracking.c.name == name).with_for_update()
    value = executor.execute(query).scalar()
    if value is None:  # first use: create the row at 0 (a concurrent creator wins harmlessly)
        stmt = dialects.insert(_dialect(executor), projection_tracking).values(name=name, position=0)
        executor.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        value = executor.execute(query).scalar()
    return value


def locked_position_and_stop(executor: Executor, name: str) -> tuple[int, bool]:
    """`locked_position`, and whether the projection is stopped there: an unresolved dead
    letter lies ahead of it (the letters of skipped events lie behind). One statement."""
    if _dialect(executor) == "postgresql":  # asked at every wake of `crm projector`: no statement built
        connection = executor.connection() if isinstance(executor, Session) else executor
        with driver_cursor(connection, _LOCKED_POSITION_AND_STOP, (name,)) as cursor:
            row = cursor.fetchone()
        if row is not None:
            return row[0], row[1]
    table, letters = projection_tracking, projection_dead_letters
    ahead = exists().where(
        letters.c.projection == name, letters.c.resolved_at.is_(None), letters.c.position > table.c.position
    )
    query = select(table.c.position, ahead).where(table.c.name == name).with_for_update(of=table)
    row = executor.execute(query).first()
    if row is None:  # first use: the row created at 0
        locked_position(executor, name)
        row = executor.execute(query).first()
    return row[0], row[1]


_LOCKED_POSITION_AND_STOP = f"""
SELECT t.position, EXISTS (
    SELECT 1 FROM {projection_dead_letters.name} l
    WHERE l.projection = t.name AND l.resolved_at IS NULL AND l.position > t.position
) FROM {projection_tracking.name} t WHERE t.name = %s FOR UPDATE OF t
"""


def hold_for_write(executor: Executor, name: str) -> int:
    """Like `locked_position`; SQLite has no row locks, so a no-op write takes its write lock now."""
    value = locked_position(executor, name)
    if _dialect(executor) == "sqlite":
        table = projection_tracking
        executor.execute(table.update().where(table.c.name == name).values(position=table.c.position))
    return value


def advance(executor: Executor, name: str, expected: int, new: int) -> bool:
    """Move `name` from `expected` to `new` atomically; False if another writer moved it first.

    Run first in the batch's transaction: the row lock it takes makes a concurrent batch
    from the same position wait, then fail this check and roll back, so no event is
    applied twice.
    """
    table = projection_tracking
    if new <= expected:
        return False
    if expected:
        moved = executor.execute(
            table.update().where(table.c.name == name, table.c.position == expected).values(position=new)
        )
        return moved.rowcount == 1
    stmt = (  # the first batch ever creates the row; a row already there must still be at 0
        dialects.insert(_dialect(executor), table)
        .values(name=name, position=new)
        .on_conflict_do_update(index_elements=[table.c.name], set_={"position": new}, where=table.c.position == 0)
        .returning(table.c.position)
    )
    return executor.execute(stmt).first() is not None


def advance_after(writes: DeferredWrites, name: str, expected: int, new: int, notice: str = "") -> bool:
    """`advance` from a position other than 0, then the writes `writes` holds and the SQL
    `notice`, in one string (PostgreSQL): one round trip for a whole batch. False if the
    position was not `expected`: then nothing after the move ran, and the caller rolls back."""
    # The move comes first and stops the string when it fails (a division by zero is the one
    # error it can raise), as `advance` run first would have: a stale batch never writes.
    moved = (
        f"WITH moved AS (UPDATE {projection_tracking.name} SET position = %s WHERE name = %s AND position = %s"
        " RETURNING 1) SELECT 1 / count(*) FROM moved; "
    )
    rest = writes.take() + (notice.replace("%", "%%") if notice else "")
    try:
        writes.cursor.execute(moved + rest, (new, name, expected))
    except DivisionByZero:
        return False
    return True


def set_position(executor: Executor, name: str, new: int) -> None:
    """Put `name` at `new` whatever it was (a rebuild's swap, holding the row)."""
    table = projection_tracking
    executor.execute(table.update().where(table.c.name == name).values(position=new))
