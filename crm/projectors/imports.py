"""ImportsProjector: the `imports` table and each import's report (`import_rejections`)."""

from __future__ import annotations

from functools import singledispatchmethod

from sqlalchemy.orm import Session

from crm.projectors.base import Projector
from crm.projectors.bulk import insert_rows
from crm.read_model.tables import import_rejections, imports
from crm.write_model.imports import Import
from crm.write_model.vocabulary import ImportStatus


class ImportsProjector(Projector):
    """One row per import with its progress and counts, and one per row it rejected."""

    name = "imports"
    tables = (imports, import_rejections)
    unordered_events = (Import.Started, Import.BatchImported, Import.Completed, Import.Failed)  # own rows only

    @singledispatchmethod
    def handle(self, event: object, session: Session) -> None:
        """Events of other aggregates change nothing here."""

    @handle.register
    def _started(self, event: Import.Started, session: Session) -> None:
        session.execute(
            imports.insert().values(
                id=event.originator_id,
                restaurant_id=event.restaurant_id,
                kind=event.kind,
                filename=event.filename,
                status=ImportStatus.RUNNING.value,
                error=None,
                rows_total=event.rows,
                rows_done=0,
                imported=0,
                updated=0,
                unchanged=0,
                rejected=0,
                started_by=event.started_by,
                created_at=event.timestamp,
                updated_at=event.timestamp,
                finished_at=None,
            )
        )

    @handle.register
    def _batch_imported(self, event: Import.BatchImported, session: Session) -> None:
        c = imports.c
        session.execute(
            imports.update()
            .where(c.id == event.originator_id)
            .values(
                rows_done=c.rows_done + event.rows,
                imported=c.imported + event.imported,
                updated=c.updated + event.updated,
                unchanged=c.unchanged + event.unchanged,
                rejected=c.rejected + len(event.rejections),
                updated_at=event.timestamp,
            )
        )
        insert_rows(
            session,
            import_rejections,
            [{"import_id": event.originator_id, **rejection} for rejection in event.rejections],
        )

    @handle.register
    def _completed(self, event: Import.Completed, session: Session) -> None:
        self._finish(event, ImportStatus.COMPLETED, None, session)

    @handle.register
    def _failed(self, event: Import.Failed, session: Session) -> None:
        self._finish(event, ImportStatus.FAILED, event.error, session)

    @staticmethod
    def _finish(event: Import.Event, status: ImportStatus, error: str | None, session: Session) -> None:
        session.execute(
            imports.update()
            .where(imports.c.id == event.originator_id)
            .values(status=status.value, error=error, updated_at=event.timestamp, finished_at=event.timestamp)
        )
