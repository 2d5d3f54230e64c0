"""The CSV files of exports: cells a spreadsheet will not run, read back exactly, and a stream
that closes its rows."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from crm import csv_format

ESCAPED = [
    ("=1+1", "'=1+1"),
    ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
    ("+1", "'+1"),
    ("-2", "'-2"),
    ("@x", "'@x"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("'=x", "''=x"),  # so that the import's one quote less gives it back
    ("''@x", "'''@x"),
    ("Ann", "Ann"),
    ("a=b", "a=b"),
    (" =1", " =1"),
    ("'quoted'", "'quoted'"),
    ("'", "'"),
    ("", ""),
]


@pytest.mark.parametrize("text, cell", ESCAPED)
def test_a_text_that_could_start_a_formula_gets_a_quote_and_reads_back(text, cell):
    assert csv_format.escaped(text) == cell
    assert csv_format.unescaped(cell) == text


def test_values_become_cells():
    moment = datetime(2025, 6, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    id = uuid.UUID("6f1c2c1e-0000-4000-8000-000000000000")

    cells = [csv_format.cell(v) for v in (None, 42, id, moment, moment.replace(tzinfo=None), "-ERR")]

    assert cells == [
        "",
        "42",
        "6f1c2c1e-0000-4000-8000-000000000000",
        "2025-06-01T12:30:00+00:00",
        "2025-06-01T14:30:00+00:00",  # a time without its zone is UTC (SQLite's)
        "'-ERR",
    ]


def test_the_file_is_rfc_4180_utf_8_with_an_optional_bom():
    rows = [("1", 'Zoë "Z", Lee', "a\nb"), ("2", None, "=x")]

    plain = b"".join(csv_format.chunks(("id", "name", "note"), rows))
    marked = b"".join(csv_format.chunks(("id", "name", "note"), rows, bom=True))

    assert plain == 'id,name,note\r\n1,"Zoë ""Z"", Lee","a\nb"\r\n2,,\'=x\r\n'.encode()
    assert marked == b"\xef\xbb\xbf" + plain
    assert list(csv.reader(io.StringIO(marked.decode("utf-8-sig"), newline=""))) == [
        ["id", "name", "note"],
        ["1", 'Zoë "Z", Lee', "a\nb"],
        ["2", "", "'=x"],
    ]


def test_the_header_comes_first_and_closing_the_file_closes_its_rows(monkeypatch):
    monkeypatch.setattr(csv_format, "_CHUNK_CHARACTERS", 1)
    read, closed = [], []

    def rows():
        try:
            for n in range(100):
                read.append(n)
                yield (n,)
        finally:
            closed.append(True)

    chunks = csv_format.chunks(("n",), rows())
    assert next(chunks) == b"n\r\n" and read == []
    assert next(chunks) == b"0\r\n" and read == [0]
    chunks.close()

    assert closed == [True] and read == [0]
