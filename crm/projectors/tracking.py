"""Projection positions, advanced by compare-and-set in the projector's own transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import dialects
from crm.read_model.tables import projection_tracking


def position(session: Session, name: str) -> int:
    value = session.execute(select(projection_tracking.c.position).where(projection_tracking.c.name == name)).scalar()
    return value or 0


def locked_position(session: Session, name: str) -> int:
    """The position, with the tracking row locked until the transaction ends (PostgreSQL)."""
    query = select(projection_tracking.c.position).where(projection_tracking.c.name == name).with_for_update()
    value = session.execute(query).scalar()
    if value is None:  # first use: create the row at 0 (a concurrent creator wins harmlessly)
        stmt = dialects.insert(session.get_bind().dialect.name, projection_tracking).values(name=name, position=0)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        value = session.execute(query).scalar()
    return value


def advance(session: Session, name: str, expected: int, new: int) -> bool:
    """Move `name` from `expected` to `new` atomically; False if another writer moved it first.

    Run first in the batch's transaction: the row lock it takes makes a concurrent batch
    from the same position wait, then fail this check and roll back, so no event is
    applied twice.
    """
    table = projection_tracking
    if new <= expected:
        return False
    if expected:
        moved = session.execute(
            table.update().where(table.c.name == name, table.c.position == expected).values(position=new)
        )
        return moved.rowcount == 1
    stmt = (  # the first batch ever creates the row; a row already there must still be at 0
        dialects.insert(session.get_bind().dialect.name, table)
        .values(name=name, position=new)
        .on_conflict_do_update(index_elements=[table.c.name], set_={"position": new}, where=table.c.position == 0)
        .returning(table.c.position)
    )
    return session.execute(stmt).first() is not None
