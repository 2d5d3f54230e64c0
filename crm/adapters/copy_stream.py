"""The rows of a COPY ... FROM STDIN, encoded as PostgreSQL reads them.

psycopg2's `copy_expert` reads its file in pieces. A `StringIO` that holds every row first is
turned, at its first read, into a buffer of four bytes a character: the COPY of a campaign's
250 audience batches (50,000 customer ids, their events' state hex-encoded) held 25 MB for a
moment. A `CopyStream` encodes the rows a piece at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from psycopg2 import Error as DatabaseError

PIECE_BYTES = 64 * 1024  # how much each of COPY's reads asks for


def copy_in(cursor, statement: str, lines: Iterable[str]) -> None:
    """Run `statement`, a COPY ... FROM STDIN, over `lines` (text, each ending in a newline).

    The lines are made as COPY reads them. An error raised making one (a value a converter
    refuses) is raised as itself: psycopg2 would report it as the COPY's `QueryCanceled`, a
    database error, which callers take for a database that is down."""
    stream = CopyStream(lines)
    try:
        cursor.copy_expert(statement, stream, size=PIECE_BYTES)
    except DatabaseError:
        if stream.error is not None:
            raise stream.error from None
        raise


class CopyStream:
    """A file for `copy_expert` over text lines (each ending in a newline)."""

    def __init__(self, lines: Iterable[str]):
        self._lines: Iterator[str] = iter(lines)
        self._left = b""
        self.error: Exception | None = None  # what making the lines raised

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left if `size` is negative); b"" at the end."""
        pieces, length = [self._left], len(self._left)
        while size < 0 or length < size:
            try:
                line = next(self._lines, None)
            except Exception as error:
                self.error = error
                raise
            if line is None:
                break
            piece = line.encode()
            pieces.append(piece)
            length += len(piece)
        data = b"".join(pieces)
        if 0 <= size < length:
            data, self._left = data[:size], data[size:]
        else:
            self._left = b""
        return data
