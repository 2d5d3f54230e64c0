"""Import files waiting to be imported, kept in the database in parts of 1 MiB.

In the database rather than on a disk, so that any worker can import a file uploaded to any
web process; each is deleted when its import ends.
"""

from __future__ import annotations

import tempfile
from typing import BinaryIO
from uuid import UUID

from sqlalchemy import Column, Integer, LargeBinary, Table, Uuid, delete, insert, select

from crm.adapters.schema import metadata

PART_BYTES = 1 << 20

import_uploads = Table(
    "import_uploads",
    metadata,
    Column("import_id", Uuid, primary_key=True),
    Column("part", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


class Uploads:
    """The upload store of `ImportCommands` (its `UploadStore` port)."""

    def __init__(self, datastore):
        self._datastore = datastore

    def put(self, import_id: UUID, content: BinaryIO) -> None:
        """Keep `content` (read from its start) as the file of `import_id`, replacing any."""
        content.seek(0)
        with self._datastore.transaction(commit=True) as session:
            session.execute(delete(import_uploads).where(import_uploads.c.import_id == import_id))
            part = 0
            while data := content.read(PART_BYTES):
                session.execute(insert(import_uploads), {"import_id": import_id, "part": part, "data": data})
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

    def kept(self) -> list[UUID]:
        """The imports whose files are kept."""
        with self._datastore.transaction(commit=False) as session:
            return list(session.execute(select(import_uploads.c.import_id).where(import_uploads.c.part == 0)).scalars())
