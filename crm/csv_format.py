"""The CSV files the service writes (exports) and reads back (imports): UTF-8, an optional BOM for
spreadsheets, a header row, RFC 4180 quoting and line ends, and cells a spreadsheet will not run.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return,
which some strip first) as a formula: `=HYPERLINK(...)` in a name becomes a link (OWASP, "CSV
injection"). Such a text cell is written with a `'` in front, which spreadsheets show as text.
So that an import gives back exactly what was exported, a text that already starts with quotes
before one of those characters gets one more: `unescaped` takes exactly one away from any cell
that starts with quotes followed by one of them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
_NEEDS_QUOTE = re.compile("'*[" + re.escape("".join(FORMULA_STARTS)) + "]")
_QUOTED = re.compile("'+[" + re.escape("".join(FORMULA_STARTS)) + "]")
_CHUNK_CHARACTERS = 64 * 1024  # what is handed to the connection at a time


def escaped(text: str) -> str:
    """A text cell a spreadsheet shows as it is: `'` + the text where it could start a formula."""
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def unescaped(cell: str) -> str:
    """The text `escaped` wrote this cell for (an import's reading of an exported cell)."""
    return cell[1:] if _QUOTED.match(cell) else cell


def cell(value: object) -> str:
    """One value as a cell: texts escaped, times in ISO 8601 UTC, null empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat()
    return str(value)  # integers, UUIDs


def chunks(columns: Sequence[str], rows: Iterable[Sequence[object]], bom: bool = False) -> Iterator[bytes]:
    """The file, UTF-8 encoded: the header, then `rows` a few dozen kilobytes at a time, read as
    they are written. Closing this generator closes `rows` (a query's connection goes back)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(columns)
    yield _taken(buffer)  # before the first row is read: the answer starts at once
    read = iter(rows)
    try:
        for row in read:
            writer.writerow([cell(value) for value in row])
            if buffer.tell() >= _CHUNK_CHARACTERS:
                yield _taken(buffer)
    finally:
        getattr(read, "close", lambda: None)()
    if buffer.tell():
        yield _taken(buffer)


def _taken(buffer: io.StringIO) -> bytes:
    """What `buffer` holds, encoded; the buffer emptied."""
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data
