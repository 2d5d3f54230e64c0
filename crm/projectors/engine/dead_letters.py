"""Poison events: an event a projection cannot apply is kept in `projection_dead_letters` with
the error, and the projection stops before it or skips it (`PROJECTION_ON_ERROR`).

A stopped projection is not tried again until `crm projections retry NAME` marks its letters
for retry (after a fix). A skipped event is applied out of order by that same command.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine

from crm import dialects
from crm.logs import without_addresses
from crm.read_model.tables import projection_dead_letters as letters


class ProjectionStopped(Exception):
    """A projection stopped before an event it cannot apply (PROJECTION_ON_ERROR=stop)."""

    def __init__(self, name: str, position: int):
        super().__init__(f"projection {name} stopped before event {position}: see `crm projections status`")
        self.name = name
        self.position = position


def describe(error: BaseException) -> str:
    """The error as kept: type and message, short, without addresses a database echoes back."""
    text = without_addresses(f"{type(error).__name__}: {error}")
    return text if len(text) <= 1000 else text[:999] + "…"


def record(engine: Engine, name: str, notification, error: BaseException) -> None:
    """Keep the event a projection could not apply (again: the latest error, unresolved)."""
    row = {
        "projection": name,
        "position": notification.id,
        "topic": notification.topic,
        "originator_id": notification.originator_id,
        "originator_version": notification.originator_version,
        "error": describe(error),
        "failed_at": datetime.now(timezone.utc),
        "resolved_at": None,
    }
    with engine.begin() as conn:
        statement = dialects.insert(conn.dialect.name, letters).values(**row)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[letters.c.projection, letters.c.position],
                set_={"error": row["error"], "failed_at": row["failed_at"], "resolved_at": None},
            )
        )


def unresolved(engine: Engine) -> dict[str, list[dict]]:
    """Every projection's letters not yet retried, oldest first."""
    query = select(letters).where(letters.c.resolved_at.is_(None)).order_by(letters.c.projection, letters.c.position)
    found: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            found.setdefault(row.projection, []).append(dict(row._mapping))
    return found


def resolve(engine: Engine, name: str, positions: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(letters)
            .where(and_(letters.c.projection == name, letters.c.position.in_(positions)))
            .values(resolved_at=datetime.now(timezone.utc))
        )
