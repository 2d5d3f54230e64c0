"""The Import aggregate: one CSV file brought into a restaurant, batch by batch.

Its id comes from the restaurant, the kind and the file's SHA-256, so the same file imported
again is the same import (already done: nothing changes). Each batch of rows is saved with
the customers or visits it records, in one transaction: after a crash the import resumes
after the last batch that committed, and no row is imported twice or skipped.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from crm.write_model.base import CrmAggregate
from crm.write_model.vocabulary import ImportKind, ImportStatus


def import_id(restaurant_id: UUID, kind: ImportKind, sha256: str) -> UUID:
    return uuid5(restaurant_id, f"import:{kind.value}:{sha256}")


class Import(CrmAggregate):
    """Where an import stands: the last line it went through, and what it did with the rows."""

    class Started(CrmAggregate.Created):
        """`rows`: how many data rows the file holds; `started_by`: who asked for it."""

        restaurant_id: UUID
        kind: str
        filename: str
        sha256: str
        rows: int
        started_by: str

        def apply(self, batch: Import) -> None:
            batch.restaurant_id = self.restaurant_id
            batch.kind = ImportKind(self.kind)
            batch.filename = self.filename
            batch.rows = self.rows
            batch.started_by = self.started_by
            batch.status = ImportStatus.RUNNING
            batch.through_line = 1  # the header
            batch.done = batch.imported = batch.updated = batch.unchanged = batch.rejected = 0
            batch.error = None

    class BatchImported(CrmAggregate.Event):
        """Rows up to `through_line` went through (`rows` of them): `imported` recorded new
        customers or visits, `updated` changed existing customers, `unchanged` were there
        already; `rejections` lists each rejected row: `{"line", "field", "reason"}`."""

        through_line: int
        rows: int
        imported: int
        updated: int
        unchanged: int
        rejections: list[dict]

        def apply(self, batch: Import) -> None:
            batch.through_line = self.through_line
            batch.done += self.rows
            batch.imported += self.imported
            batch.updated += self.updated
            batch.unchanged += self.unchanged
            batch.rejected += len(self.rejections)

    class Completed(CrmAggregate.Event):
        def apply(self, batch: Import) -> None:
            batch.status = ImportStatus.COMPLETED

    class Failed(CrmAggregate.Event):
        """The import cannot go on (its restaurant was deleted); the batches before stay."""

        error: str

        def apply(self, batch: Import) -> None:
            batch.status = ImportStatus.FAILED
            batch.error = self.error

    @classmethod
    def start(
        cls,
        restaurant_id: UUID,
        kind: ImportKind,
        filename: str,
        sha256: str,
        rows: int,
        started_by: str,
        at: datetime,
    ) -> Import:
        return cls._create(
            cls.Started,
            id=import_id(restaurant_id, kind, sha256),
            restaurant_id=restaurant_id,
            kind=kind.value,
            filename=filename,
            sha256=sha256,
            rows=rows,
            started_by=started_by,
            actor=started_by,
            timestamp=at,
        )

    @property
    def actor(self) -> str:
        """The actor recorded on the events the import appends: the import, and who started it."""
        return f"import {self.id} by {self.started_by}"

    def record_batch(
        self, through_line: int, rows: int, counts: dict[str, int], rejections: list[dict], at: datetime
    ) -> None:
        """`counts`: how many rows were imported, updated and unchanged."""
        self.trigger_event(
            self.BatchImported,
            through_line=through_line,
            rows=rows,
            imported=counts["imported"],
            updated=counts["updated"],
            unchanged=counts["unchanged"],
            rejections=rejections,
            actor=self.actor,
            timestamp=at,
        )

    def complete(self, at: datetime) -> None:
        if self.status == ImportStatus.RUNNING:
            self.trigger_event(self.Completed, actor=self.actor, timestamp=at)

    def fail(self, error: str, at: datetime) -> None:
        if self.status == ImportStatus.RUNNING:
            self.trigger_event(self.Failed, error=error, actor=self.actor, timestamp=at)
