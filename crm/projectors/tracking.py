"""Projection positions, advanced by compare-and-set in the projector's own transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import dialects
from crm.read_model.tables import projection_tracking


def position(session: Session, name: str) -> int:
    value = session.execute(select(projection_tracking.c.position).where(projection_tracking.c.name == name)).scalar()
    return value or 0


def advance(session: Session, name: str, expected: int, new: int) -> bool:
    """Move `name` from `expected` to `new` atomically; False if another writer moved it first.

    Run first in the batch's transaction: the row lock it takes makes a concurrent batch
    from the same position wait, then fail this check and roll back, so no event is
    applied twice.
    """
    table = projection_tracking
    stmt = (
        dialects.insert(session.get_bind().dialect.name, table)
        .values(name=name, position=new)
        .on_conflict_do_update(
            index_elements=[table.c.name],
            set_={"position": new},
            where=(table.c.position == expected) & (table.c.position < new),
        )
        .returning(table.c.position)
    )
    return session.execute(stmt).first() is not None


def reset(session: Session, name: str) -> None:
    session.execute(projection_tracking.delete().where(projection_tracking.c.name == name))
