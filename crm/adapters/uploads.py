"""Import files waiting to be imported, kept in the database in parts of 1 MiB.

In the database rather than on a disk, so that any worker can import a file uploaded to any
web process; each is deleted when its import ends.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import BinaryIO
from uuid import UUID

from sqlalchemy import Column, DateTime, Integer, LargeBinary, Table, Uuid, delete, func, insert, select

from crm.adapters.schema import metadata

PART_BYTES = 1 << 20

import_uploads = Table(
    "import_uploads",
    metadata,
    Column("import_id", Uuid, primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
    # (The default: files stored by a version that did not set it.)
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class Uploads:
    """The upload store of `ImportCommands` (its `UploadStore` port)."""

    def __init__(self, datastore):
        self._datastore = datastore

    def put(self, import_id: UUID, content: BinaryIO, at: datetime) -> None:
        """Keep `content` (read from its start) as the file of `import_id`, replacing any,
        stored `at`."""
        content.seek(0)
        with self._datastore.transaction(commit=True) as session:
            session.execute(delete(import_uploads).where(import_uploads.c.import_id == import_id))
            part = 0
            while data := content.read(PART_BYTES):
                session.execute(
                    insert(import_uploads), {"import_id": import_id, "part": part, "data": data, "stored_at": at}
                )
                part += 1

    def open(self, import_id: UUID) -> BinaryIO | None:
        """The file as a seekable temporary file (None: not kept); the caller closes it."""
        copy = tempfile.SpooledTemporaryFile(max_size=8 * PART_BYTES)
        found = False
        with self._datastore.transaction(commit=False) as session:
            for part in range(1 << 31):
                data = session.execute(
                    select(import_uploads.c.data).where(
                        import_uploads.c.import_id == import_id, import_uploads.c.part == part
                    )
                ).scalar()
                if data is None:
                    break
                copy.write(data)
                found = True
        if not found:
            copy.close()
            return None
        copy.seek(0)
        return copy

    def delete(self, import_id: UUID) -> None:
        with self._datastore.transaction(commit=True) as session:
            session.execute(delete(import_uploads).where(import_uploads.c.import_id == import_id))

    def kept(self) -> dict[UUID, datetime]:
        """The imports whose files are kept, with when each was stored."""
        query = select(import_uploads.c.import_id, import_uploads.c.stored_at).where(import_uploads.c.part == 0)
        with self._datastore.transaction(commit=False) as session:
            return {id: _utc(at) for id, at in session.execute(query)}


def _utc(at: datetime) -> datetime:
    """SQLite gives back the UTC time it was given (or its own default) without its zone."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
