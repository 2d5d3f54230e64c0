"""The tests' servers start on a port they hold themselves, never on one another process took
between `free_port()` and their bind (tests/serving.py)."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys

import pytest

from tests import serving
from tests.smtp_sinks import SinkController

# A server that, like gunicorn, retries its bind while the port is taken, then listens and waits.
SERVER = """
import socket, sys, time
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
for _ in range(100):
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(3)
sock.listen()
time.sleep(60)
"""


def start(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SERVER, str(port)])


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def test_a_server_is_moved_to_another_port_when_another_process_took_its_port(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port, serving.free_port()])
        monkeypatch.setattr(serving, "free_port", lambda: next(ports))
        started: list[subprocess.Popen] = []

        process, port = serving.serve_on_free_port(lambda p: started.append(start(p)) or started[-1], stop, str)
        try:
            # Check the first server was stopped, and the second one holds the port it got.
            assert port != taken_port
            assert len(started) == 2 and started[0].returncode is not None
            assert process is started[1]
            assert serving.listener(process, port) == "ours"
            assert serving.listener(process, taken_port) == "other"
        finally:
            stop(process)


def test_a_server_that_exits_before_it_listens_is_reported_with_its_log():
    def exits(port: int) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(4)"])

    with pytest.raises(serving.ServerDidNotStart, match=r"exited \(4\):\nthe log"):
        serving.serve_on_free_port(exits, stop, lambda: "the log")


def test_a_server_started_again_on_its_port_fails_when_another_process_holds_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        started: list[subprocess.Popen] = []

        with pytest.raises(serving.ServerDidNotStart, match=f"another process holds port {taken_port}"):
            serving.serve_on_free_port(lambda p: started.append(start(p)) or started[-1], stop, str, port=taken_port)
        # Check it was tried there once, and stopped.
        assert len(started) == 1 and started[0].returncode is not None


def test_an_smtp_sink_reports_the_port_the_system_gave_it_and_answers_there():
    handler = _Counting()
    first, second = SinkController(handler), SinkController(handler)
    first.start()
    second.start()
    try:
        assert first.port not in (0, second.port)
        for controller in (first, second):
            with smtplib.SMTP("127.0.0.1", controller.port, timeout=5) as client:
                client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\r\n\r\nhello")
        assert handler.received == 2
    finally:
        first.stop()
        second.stop()


class _Counting:
    received = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1
        return "250 OK"
