"""CopyStream hands COPY its rows a piece at a time, byte for byte what the lines say."""

from __future__ import annotations

import pytest

from crm.adapters.copy_stream import CopyStream

LINES = [f"{n}\tnamé {n}\t\\\\x{'ab' * n}\n" for n in range(300)]
WHOLE = "".join(LINES).encode()


@pytest.mark.parametrize("size", [1, 7, 100, 8192, 1 << 20])
def test_reads_of_any_size_give_the_lines_encoded_in_order(size):
    stream = CopyStream(LINES)
    pieces = []
    while piece := stream.read(size):
        assert len(piece) <= size
        pieces.append(piece)
    assert b"".join(pieces) == WHOLE
    assert stream.read(size) == b""


def test_a_read_without_a_size_takes_everything_left():
    stream = CopyStream(LINES)
    first = stream.read(10)
    assert first + stream.read() == WHOLE
    assert stream.read() == b""


def test_a_read_takes_only_the_lines_it_needs():
    taken = []

    def lines():
        for line in LINES:
            taken.append(line)
            yield line

    stream = CopyStream(lines())
    stream.read(100)
    assert len(taken) < 20  # the rest are not built until COPY asks for them
    assert stream.read(100)
    assert len(taken) < 40


def test_no_lines_read_as_the_end():
    assert CopyStream([]).read(8192) == b""
