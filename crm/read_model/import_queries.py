"""CSV imports as the API and dashboard show them: progress, counts and the rejected rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from sqlalchemy import select

from crm.read_model.pages import Page, QueriesBase
from crm.read_model.tables import import_rejections, imports, restaurants
from crm.write_model.vocabulary import ImportStatus

_columns = (
    imports.c.id,
    imports.c.restaurant_id.label("restaurant"),
    restaurants.c.name.label("restaurant_name"),
    imports.c.kind,
    imports.c.filename,
    imports.c.status,
    imports.c.error,
    imports.c.rows_total,
    imports.c.rows_done,
    imports.c.imported,
    imports.c.updated,
    imports.c.unchanged,
    imports.c.rejected,
    imports.c.started_by,
    imports.c.created_at,
    imports.c.updated_at,
    imports.c.finished_at,
)
_from = imports.outerjoin(restaurants, restaurants.c.id == imports.c.restaurant_id)
_REPORT_ROWS = 5_000  # rejected rows read per query while a report streams


class ImportQueries(QueriesBase):
    """Imports, filtered by the caller's restaurant (`scope`)."""

    def import_(self, import_id: UUID, scope: UUID | None) -> dict | None:
        query = select(*_columns).select_from(_from).where(imports.c.id == import_id)
        return self._one(self._scoped(query, imports.c.restaurant_id, scope))

    def imports(self, scope: UUID | None, restaurant_id: UUID | None, page: int, page_size: int) -> Page:
        """Imports, newest first."""
        query = self._scoped(select(*_columns).select_from(_from), imports.c.restaurant_id, scope)
        if restaurant_id is not None:
            query = query.where(imports.c.restaurant_id == restaurant_id)
        return self._page(query, (imports.c.created_at.desc(), imports.c.id.desc()), page, page_size)

    def unfinished(self, idle_since: datetime | None) -> list[UUID]:
        """The imports still running (those with no progress since `idle_since`, if given)."""
        query = select(imports.c.id).where(imports.c.status == ImportStatus.RUNNING.value)
        if idle_since is not None:
            query = query.where(imports.c.updated_at < idle_since)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def rejections(self, import_id: UUID, page: int, page_size: int) -> Page:
        """One import's rejected rows, by line (the caller checked the import is visible)."""
        query = select(import_rejections.c.line, import_rejections.c.field, import_rejections.c.reason).where(
            import_rejections.c.import_id == import_id
        )
        return self._page(query, (import_rejections.c.line,), page, page_size)

    def all_rejections(self, import_id: UUID) -> Iterator[dict]:
        """Every rejected row of one import, by line, read a slice at a time (for a download)."""
        after = 0
        while True:
            query = (
                select(import_rejections.c.line, import_rejections.c.field, import_rejections.c.reason)
                .where(import_rejections.c.import_id == import_id, import_rejections.c.line > after)
                .order_by(import_rejections.c.line)
                .limit(_REPORT_ROWS)
            )
            with self.engine.connect() as connection:
                rows = [dict(row._mapping) for row in connection.execute(query)]
            yield from rows
            if len(rows) < _REPORT_ROWS:
                return
            after = rows[-1]["line"]
