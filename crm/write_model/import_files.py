"""Reading an import's CSV file: UTF-8 with or without a BOM, comma or semicolon separated,
quoted fields, a header row naming the columns (any case, in any order; others ignored).

A file that is not such a CSV, or lacks a required column, is refused whole (`InvalidInput`
on `file`) before anything is imported; a bad row is only that row's rejection, later.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from crm.write_model.errors import InvalidInput
from crm.write_model.vocabulary import MAX_IMPORT_ROWS, ImportKind

# Each tuple: one of these columns is required.
REQUIRED = {
    ImportKind.CUSTOMERS: (("email",),),
    ImportKind.VISITS: (("email", "external_id"), ("spend_cents", "spend"), ("visited_at",)),
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFacts:
    """What a first read of the file found: its digest and how many data rows it holds."""

    sha256: str
    rows: int


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on, and its cells by (lower-cased) column name."""

    line: int
    cells: dict[str, str]
    extra: bool = False  # more cells than the header has columns


def inspect(content: BinaryIO, kind: ImportKind) -> FileFacts:
    """Read the whole file once: refuse it if it is not a CSV with the columns `kind` needs."""
    digest = hashlib.sha256()
    content.seek(0)
    while chunk := content.read(_CHUNK):
        digest.update(chunk)
    rows = sum(1 for _ in read_rows(content, kind))
    if rows > MAX_IMPORT_ROWS:
        raise InvalidInput("file", f"holds {rows} rows; at most {MAX_IMPORT_ROWS} are imported at once")
    return FileFacts(digest.hexdigest(), rows)


def read_rows(content: BinaryIO, kind: ImportKind) -> Iterator[Row]:
    """The file's data rows, in order (blank lines skipped)."""
    content.seek(0)
    text = io.TextIOWrapper(content, encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline()
        if not header_line.strip():
            raise InvalidInput("file", "is empty: a header row naming the columns is required")
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        header = _header(next(csv.reader([header_line], delimiter=delimiter), []), kind)
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        reader_line = 1  # physical lines read so far (the header's included)
        for values in reader:
            line, reader_line = reader_line + 1, 1 + reader.line_num
            if not values or values == [""]:
                continue
            cells = {name: value.strip() for name, value in zip(header, values, strict=False) if name}
            yield Row(line, cells, extra=len(values) > len(header))
    except UnicodeDecodeError:
        raise InvalidInput("file", "is not UTF-8 text: save the CSV as UTF-8") from None
    except csv.Error as error:
        raise InvalidInput("file", f"is not a readable CSV ({error})") from None
    finally:
        text.detach()  # the caller's file stays open


def _header(names: list[str], kind: ImportKind) -> list[str]:
    header = [name.strip().lower() for name in names]
    if "\x00" in "".join(header):
        raise InvalidInput("file", "is not a CSV text file")
    named = [name for name in header if name]
    duplicated = sorted({name for name in named if named.count(name) > 1})
    if duplicated:
        raise InvalidInput("file", f"names a column twice: {', '.join(duplicated)}")
    missing = [" or ".join(choice) for choice in REQUIRED[kind] if not any(name in header for name in choice)]
    if missing:
        raise InvalidInput(
            "file", f"lacks the required column(s) {'; '.join(missing)} in its header row (found: {', '.join(named)})"
        )
    return header
